"""Plain numpy versions of what the kernels do, for the tests to compare them with."""

from __future__ import annotations

import numpy as np

from zipweights.errors import CorruptDataError

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def split_reference(data, unit: int) -> tuple[bytes, bytes, int]:
    """codec.sparse.split: (bitmap, packed non-zero values, count of non-zero values)."""
    v = np.frombuffer(data, _UINT[unit])
    mask = v != 0
    return np.packbits(mask, bitorder="little").tobytes(), v[mask].tobytes(), int(mask.sum())


def merge_reference(bitmap, values, unit: int, out: memoryview) -> None:
    """codec.sparse.merge: scatter `values` to the positions set in `bitmap`."""
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
