"""The one table of element types: id on disk, safetensors name, size, how to split,
the numpy / torch type, and where safetensors sorts it.

`unit` is the size in bytes of the value that the byte-plane split works on and
`rotate` says whether that value is rotated left by one bit first (moving the sign
below the mantissa so one byte holds the whole exponent). Complex numbers split as
their real and imaginary floats. Sub-byte and unknown types are opaque bytes: they
still round-trip, just without a type-aware split; so are the safetensors types the
format has no id for (the FNUZ float8 types, rows with id 0 below), which the
safe_open surface still returns as their numpy / torch type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    id: int
    name: str
    bits: int  # bits per element, as safetensors counts them
    unit: int  # bytes per split unit: 1, 2, 4 or 8
    rotate: bool
    is_float: bool
    array_name: str | None = None  # the type's name in numpy (ml_dtypes where numpy has none) and torch
    rank: int = -1  # place in safetensors' Dtype enum (safetensors/src/tensor.rs): its writer sorts by it

    def nbytes(self, numel: int) -> int | None:
        """Bytes for `numel` elements, or None when they do not fill whole bytes."""
        total = numel * self.bits
        return total // 8 if total % 8 == 0 else None


_TABLE = [
    DType(0, "OPAQUE", 8, 1, False, False, None, -1),
    DType(1, "BOOL", 8, 1, False, False, "bool", 0),
    DType(2, "U8", 8, 1, False, False, "uint8", 4),
    DType(3, "I8", 8, 1, False, False, "int8", 5),
    DType(4, "U16", 16, 2, False, False, "uint16", 12),
    DType(5, "I16", 16, 2, False, False, "int16", 11),
    DType(6, "U32", 32, 4, False, False, "uint32", 16),
    DType(7, "I32", 32, 4, False, False, "int32", 15),
    DType(8, "U64", 64, 8, False, False, "uint64", 21),
    DType(9, "I64", 64, 8, False, False, "int64", 20),
    DType(10, "F16", 16, 2, True, True, "float16", 13),
    DType(11, "BF16", 16, 2, True, True, "bfloat16", 14),
    DType(12, "F32", 32, 4, True, True, "float32", 17),
    DType(13, "F64", 64, 8, True, True, "float64", 19),
    DType(14, "F8_E4M3", 8, 1, False, True, "float8_e4m3fn", 7),
    DType(15, "F8_E5M2", 8, 1, False, True, "float8_e5m2", 6),
    DType(16, "F8_E8M0", 8, 1, False, True, "float8_e8m0fnu", 8),
    DType(17, "C64", 64, 4, True, True, "complex64", 18),
    DType(18, "F4", 4, 1, False, True, None, 1),
    DType(19, "F6_E2M3", 6, 1, False, True, None, 2),
    DType(20, "F6_E3M2", 6, 1, False, True, None, 3),
    # safetensors types without a format id: stored as OPAQUE (id 0, coded as its bytes)
    DType(0, "F8_E4M3FNUZ", 8, 1, False, True, "float8_e4m3fnuz", 9),
    DType(0, "F8_E5M2FNUZ", 8, 1, False, True, "float8_e5m2fnuz", 10),
]

OPAQUE = _TABLE[0]
BY_ID = {d.id: d for d in _TABLE if d.id or d is OPAQUE}  # what the index's dtype ids mean
BY_NAME = {d.name: d for d in _TABLE if d.id}  # the types the format codes by type
SAFETENSORS = {d.name: d for d in _TABLE if d is not OPAQUE}  # every safetensors type known here
BY_ARRAY_NAME = {d.array_name: d for d in _TABLE if d.array_name is not None}


def from_name(name: str) -> DType:
    """The row the format codes a safetensors dtype name by: unknown names, and the
    types the format has no id for, are opaque bytes."""
    return BY_NAME.get(name, OPAQUE)
