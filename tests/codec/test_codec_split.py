"""Byte-plane split/merge: layout against an independent numpy model, exact round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from zipweights import dtypes
from zipweights.codec import split

UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def make_dtype(unit: int, rotate: bool) -> dtypes.DType:
    return dtypes.DType(200, f"TEST{unit}{'R' if rotate else ''}", 8 * unit, unit, rotate, rotate)


def reference_split(data: bytes, unit: int, rotate: bool) -> bytes:
    """spec/FORMAT.md 7.2, written with numpy: rotate left by one bit, MSB plane first."""
    v = np.frombuffer(data, dtype=np.dtype(UINT[unit]).newbyteorder("<")).astype(UINT[unit])
    bits = 8 * unit
    if rotate:
        v = (v << UINT[unit](1)) | (v >> UINT[unit](bits - 1))
    planes = [((v >> UINT[unit](8 * (unit - 1 - p))) & UINT[unit](0xFF)).astype(np.uint8) for p in range(unit)]
    return b"".join(p.tobytes() for p in planes)


def _values(unit):
    return st.integers(0, 256).flatmap(lambda n: st.binary(min_size=n * unit, max_size=n * unit))


# No dtype rotates 1-byte values (and the kernel's unit-1 path is a plain copy), so
# "unit 1, rotated" is not a combination the format uses; see test_no_rotated_single_bytes.
@pytest.mark.parametrize(
    "unit,rotate",
    [(1, False), (2, False), (2, True), (4, False), (4, True), (8, False), (8, True)],
)
@given(data=st.data())
def test_split_matches_reference_and_merge_inverts(unit, rotate, data):
    raw = data.draw(_values(unit))
    dt = make_dtype(unit, rotate)
    planes = split.split(raw, dt)
    assert bytes(planes) == reference_split(raw, unit, rotate)
    out = bytearray(len(raw))
    split.merge(bytes(planes), dt, out)
    assert bytes(out) == raw


def test_no_rotated_single_bytes():
    assert [d.name for d in dtypes.BY_ID.values() if d.unit == 1 and d.rotate] == []


@pytest.mark.parametrize("name", sorted(dtypes.BY_NAME))
def test_split_round_trip_every_table_dtype(name):
    dt = dtypes.BY_NAME[name]
    rng = np.random.default_rng(dt.id)
    raw = rng.integers(0, 256, 64 * 8, dtype=np.uint8).tobytes()
    planes = split.split(raw, dt)
    assert bytes(planes) == reference_split(raw, dt.unit, dt.rotate)
    out = bytearray(len(raw))
    split.merge(planes, dt, out)
    assert bytes(out) == raw


def test_split_accepts_unaligned_memoryview():
    # Chunks are slices of an mmap at arbitrary offsets: the kernel must not assume alignment.
    base = bytes(range(256)) * 3
    view = memoryview(base)[1 : 1 + 4 * 100]
    dt = dtypes.BY_NAME["F32"]
    planes = split.split(view, dt)
    assert bytes(planes) == reference_split(bytes(view), 4, True)
    out = bytearray(401)
    split.merge(planes, dt, memoryview(out)[1:])
    assert bytes(out[1:]) == bytes(view)


@pytest.mark.parametrize("unit", [2, 4, 8])
def test_split_rejects_partial_values(unit):
    dt = make_dtype(unit, True)
    with pytest.raises(ValueError, match="buffer sizes"):
        split.split(b"\x00" * (unit + 1), dt)


# -- plane 0 of a rotated float is its exponent ---------------------------------
SPECIAL_BF16 = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0xFFC1, 0x7FFF, 0x0001, 0x807F, 0x3F80, 0xC2F7]
SPECIAL_F32 = [
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFC12345,
    0x7FFFFFFF, 0x00000001, 0x807FFFFF, 0x3F800000, 0xC0490FDB,
]


def _exponent_check(bits: np.ndarray, name: str, exp_shift: int, total_bits: int):
    dt = dtypes.BY_NAME[name]
    raw = bits.tobytes()
    planes = np.frombuffer(bytes(split.split(raw, dt)), np.uint8).reshape(dt.unit, -1)
    exponent = ((bits >> exp_shift) & 0xFF).astype(np.uint8)
    assert planes[0].tobytes() == exponent.tobytes()
    # ... and the sign ends up in bit 0 of the last plane
    sign = (bits >> (total_bits - 1)).astype(np.uint8)
    assert (planes[-1] & 1).tobytes() == sign.tobytes()


@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=300))
def test_plane0_of_bf16_is_exponent(values):
    _exponent_check(np.array(values + SPECIAL_BF16, np.uint16), "BF16", 7, 16)


@given(st.lists(st.integers(0, 0xFFFFFFFF), min_size=1, max_size=300))
def test_plane0_of_f32_is_exponent(values):
    _exponent_check(np.array(values + SPECIAL_F32, np.uint32), "F32", 23, 32)


def test_plane0_of_real_float32_values():
    x = np.array([1.0, -2.5, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38], np.float32)
    planes = np.frombuffer(bytes(split.split(x.tobytes(), dtypes.BY_NAME["F32"])), np.uint8).reshape(4, -1)
    assert planes[0].tolist() == [127, 128, 0, 0, 255, 255, 255, 0, 254]
