"""The one table of element types: id on disk, safetensors name, size, and how to split.

`unit` is the size in bytes of the value that the byte-plane split works on and
`rotate` says whether that value is rotated left by one bit first (moving the sign
below the mantissa so one byte holds the whole exponent). Complex numbers split as
their real and imaginary floats. Sub-byte and unknown types are opaque bytes: they
still round-trip, just without a type-aware split.
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

    def nbytes(self, numel: int) -> int | None:
        """Bytes for `numel` elements, or None when they do not fill whole bytes."""
        total = numel * self.bits
        return total // 8 if total % 8 == 0 else None


_TABLE = [
    DType(0, "OPAQUE", 8, 1, False, False),
    DType(1, "BOOL", 8, 1, False, False),
    DType(2, "U8", 8, 1, False, False),
    DType(3, "I8", 8, 1, False, False),
    DType(4, "U16", 16, 2, False, False),
    DType(5, "I16", 16, 2, False, False),
    DType(6, "U32", 32, 4, False, False),
    DType(7, "I32", 32, 4, False, False),
    DType(8, "U64", 64, 8, False, False),
    DType(9, "I64", 64, 8, False, False),
    DType(10, "F16", 16, 2, True, True),
    DType(11, "BF16", 16, 2, True, True),
    DType(12, "F32", 32, 4, True, True),
    DType(13, "F64", 64, 8, True, True),
    DType(14, "F8_E4M3", 8, 1, False, True),
    DType(15, "F8_E5M2", 8, 1, False, True),
    DType(16, "F8_E8M0", 8, 1, False, True),
    DType(17, "C64", 64, 4, True, True),
    DType(18, "F4", 4, 1, False, True),
    DType(19, "F6_E2M3", 6, 1, False, True),
    DType(20, "F6_E3M2", 6, 1, False, True),
]

BY_ID = {d.id: d for d in _TABLE}
BY_NAME = {d.name: d for d in _TABLE if d.name != "OPAQUE"}
OPAQUE = BY_ID[0]


def from_name(name: str) -> DType:
    """The table row for a safetensors dtype name; unknown names are opaque bytes."""
    return BY_NAME.get(name, OPAQUE)
