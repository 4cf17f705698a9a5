"""Mostly-zero chunks: a bitmap of the non-zero values plus the non-zero values packed.

"Zero" means every bit of the value is zero, so -0.0 stays a value and round-trips.
The bitmap is byte-aligned, least significant bit first, and is itself entropy-coded
as bytes: one bitmap byte holds two groups of four values, so N:M structured sparsity
(2:4 has 6 possible patterns per group) shows up as a skewed byte distribution and
codes near its log2(6)/4 ~ 0.65 bits per value with an order-0 coder, with no
special case for the structure.

split and merge run in the compiled kernels (GIL released); the numpy versions below
are their reference, which the tests compare them with.
"""

from __future__ import annotations

import numpy as np

from .. import _kernels
from ..errors import CorruptDataError

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def zero_fraction(data, unit: int) -> float:
    v = np.frombuffer(data, _UINT[unit])
    return 1.0 - np.count_nonzero(v) / v.size if v.size else 0.0


def split(data, unit: int) -> tuple[bytes, bytes, int]:
    """(bitmap bytes, packed non-zero values, count of non-zero values)."""
    return _kernels.sparse_split(data, unit)


def merge(bitmap, values, unit: int, out: memoryview) -> None:
    """Scatter `values` to the positions set in `bitmap`; every other value is zero."""
    _kernels.sparse_merge(bitmap, values, unit, out)  # CorruptDataError on a mismatch


def split_reference(data, unit: int) -> tuple[bytes, bytes, int]:
    v = np.frombuffer(data, _UINT[unit])
    mask = v != 0
    return np.packbits(mask, bitorder="little").tobytes(), v[mask].tobytes(), int(mask.sum())


def merge_reference(bitmap, values, unit: int, out: memoryview) -> None:
    m = len(out) // unit
    if len(bitmap) != (m + 7) // 8:
        raise CorruptDataError(f"bitmap holds {len(bitmap)} bytes, expected {(m + 7) // 8}")
    bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
    if bits[m:].any():
        raise CorruptDataError("bitmap has bits set past the last value")
    mask = bits[:m].view(bool)
    vals = np.frombuffer(values, _UINT[unit])
    if int(np.count_nonzero(mask)) != vals.size:
        raise CorruptDataError(f"bitmap marks {int(np.count_nonzero(mask))} values, {vals.size} stored")
    dst = np.frombuffer(out, _UINT[unit])
    dst[:] = 0
    dst[mask] = vals
