"""dtype -> byte planes and back. The kernel does the work; this names the layout.

A chunk of n values of `unit` bytes becomes `unit` planes of n bytes, most significant
byte first, after rotating floats left by one bit (sign moves below the mantissa, so
plane 0 of a BF16/F32 chunk is exactly the exponent).
"""

from __future__ import annotations

from .. import _kernels
from ..dtypes import DType


def split(data, dtype: DType) -> bytearray:
    out = bytearray(len(data))
    _kernels.split_planes(data, dtype.unit, int(dtype.rotate), out)
    return out


def merge(planes, dtype: DType, out) -> None:
    _kernels.merge_planes(planes, dtype.unit, int(dtype.rotate), out)
