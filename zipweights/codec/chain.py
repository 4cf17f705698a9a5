"""A chunk's codec: which transform + coders turn its original bytes into a payload.

The codec id of every chunk is stored in the chunk table; ids are listed once here
and once in spec/FORMAT.md ("Chunk codecs"). Unknown ids make a reader fail with
UnsupportedFeatureError rather than guess.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..dtypes import DType
from ..errors import CorruptDataError, UnsupportedFeatureError
from . import entropy, split

STORE = 0  # the original bytes, verbatim
PLANES = 1  # byte planes, each with its own stream coder
# 2 FLOAT (fused exponent coder), 3 SPARSE (bitmap + packed values): reserved
NAMES = {STORE: "store", PLANES: "planes"}

_STREAM_HEAD = struct.Struct("<BI")  # coder id, payload length


@dataclass(frozen=True)
class Level:
    """What an encoder tries at one compression level."""

    zstd_level: int

    @classmethod
    def of(cls, level: int) -> "Level":
        return cls(zstd_level=_ZSTD_LEVELS[level])


MIN_LEVEL, MAX_LEVEL, DEFAULT_LEVEL = 1, 9, 3
_ZSTD_LEVELS = {1: 1, 2: 2, 3: 3, 4: 5, 5: 7, 6: 9, 7: 12, 8: 16, 9: 19}


def bound(length: int, dtype: DType) -> int:
    """Largest payload the encoder can produce for `length` original bytes."""
    return length + dtype.unit * _STREAM_HEAD.size


def encode_chunk(data, dtype: DType, level: Level) -> tuple[int, bytes]:
    """Code one chunk; return (codec id, payload)."""
    n = len(data)
    if n < 64:
        return STORE, bytes(data)
    planes = memoryview(split.split(data, dtype))
    m = n // dtype.unit
    parts = []
    for p in range(dtype.unit):
        coder, payload = entropy.encode(planes[p * m : (p + 1) * m], level.zstd_level)
        parts.append(_STREAM_HEAD.pack(coder, len(payload)))
        parts.append(payload)
    coded = b"".join(parts)
    if len(coded) >= n:
        return STORE, bytes(data)
    return PLANES, coded


def decode_chunk(codec: int, payload, dtype: DType, out: memoryview) -> None:
    """Decode `payload` into `out` (exactly the chunk's original size)."""
    n = len(out)
    if codec == STORE:
        if len(payload) != n:
            raise CorruptDataError(f"stored chunk holds {len(payload)} bytes, expected {n}")
        out[:] = payload
        return
    if codec != PLANES:
        raise UnsupportedFeatureError(f"unknown chunk codec {codec}")
    m = n // dtype.unit
    planes = bytearray(n)
    view = memoryview(planes)
    pos = 0
    payload = memoryview(payload)
    for p in range(dtype.unit):
        if len(payload) - pos < _STREAM_HEAD.size:
            raise CorruptDataError(f"plane {p} header runs past the end of the chunk payload")
        coder, length = _STREAM_HEAD.unpack_from(payload, pos)
        pos += _STREAM_HEAD.size
        if length > len(payload) - pos:
            raise CorruptDataError(
                f"plane {p} declares {length} bytes, only {len(payload) - pos} left in the payload"
            )
        try:
            entropy.decode(coder, payload[pos : pos + length], view[p * m : (p + 1) * m])
        except CorruptDataError as exc:
            raise CorruptDataError(f"plane {p}: {exc}") from None
        pos += length
    if pos != len(payload):
        raise CorruptDataError(f"{len(payload) - pos} trailing bytes after the last plane")
    split.merge(planes, dtype, out)
