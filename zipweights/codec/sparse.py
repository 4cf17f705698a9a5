"""Mostly-zero chunks: a bitmap of the non-zero values plus the non-zero values packed.

"Zero" means every bit of the value is zero, so -0.0 stays a value and round-trips.
The bitmap is byte-aligned, least significant bit first, and is itself entropy-coded
as bytes: one bitmap byte holds two groups of four values, so N:M structured sparsity
(2:4 has 6 possible patterns per group) shows up as a skewed byte distribution and
codes near its log2(6)/4 ~ 0.65 bits per value with an order-0 coder, with no
special case for the structure.

split and merge run in the compiled kernels (GIL released); the tests compare them
with plain numpy versions (tests/codec/oracles.py).
"""

from __future__ import annotations

import numpy as np

from .. import _kernels

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
