"""Chunks coded against the same bytes of a base model (spec/FORMAT.md 7.5-7.8).

A fine-tune keeps about three quarters of its values bit for bit and moves the rest
by a few units in the last place, so a chunk is coded as its difference from the base
chunk: DELTA (the kernels' delta coder: the ordinal difference or the XOR of each
value, with the base value's exponent as context) for the float types, XOR then any
codec of the chain for every type, BASE (no payload) for a chunk equal to its base.
COPY, a chunk equal to the same chunk of an earlier entry, needs no base: the reader
resolves it, since it is about entries, not bytes.

Every payload against a base starts with the xxh3-64 of the base chunk it was coded
against, so a wrong base is found, and named, before it is used.
"""

from __future__ import annotations

import struct

import numpy as np
import xxhash

from .. import _kernels
from ..dtypes import DType
from ..errors import CorruptDataError, TruncatedDataError
from . import chain

DELTA = 4  # u64 base checksum + a delta payload (spec/CODERS.md 4)
XOR = 5  # u64 base checksum + inner codec id + the chunk XOR its base, coded by that codec
BASE = 6  # empty: the chunk is its base chunk
COPY = 7  # u32 entry number: the chunk is the same chunk of that earlier entry

NEEDS_BASE = frozenset((DELTA, XOR, BASE))
NAMES = {**chain.NAMES, DELTA: "delta", XOR: "xor", BASE: "base", COPY: "copy"}

_CHECK = struct.Struct("<Q")
_COPY = struct.Struct("<I")
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

# Coded alone as well when the delta keeps more than this of the chunk: a retrained
# layer differs from its base everywhere, and then the base is no help.
TRY_ALONE_ABOVE = 0.5


class BaseChunkMismatch(Exception):
    """The base chunk does not hash to what the payload was coded against (the reader
    turns it into a BaseMismatchError naming both files)."""

    def __init__(self, expected: int, got: int):
        super().__init__(f"base chunk checksum {got:016x}, the file was coded against {expected:016x}")
        self.expected, self.got = expected, got


def checksum(data) -> int:
    return xxhash.xxh3_64_intdigest(data)


def encode_chunk(data, base, dtype: DType, level: chain.Level) -> tuple[int, bytes]:
    """Code one chunk against its base chunk (the same number of bytes); return (codec
    id, payload). The smallest of: BASE, DELTA, XOR + inner codec, and the chunk alone."""
    data, base = memoryview(data).cast("B"), memoryview(base).cast("B")
    if len(data) != len(base):
        raise ValueError("a chunk and its base chunk differ in size")
    base_sum = checksum(base)
    if base_sum == checksum(data) and same_bytes(data, base):  # hashes first: memcmp speed
        return BASE, b""
    check = _CHECK.pack(base_sum)
    best: tuple[int, bytes] | None = None
    kind = chain.float_kind(dtype)
    if kind is not None and len(data) >= chain.MIN_CODED and len(data) % (4 if kind == 2 else 2) == 0:
        best = (DELTA, check + _kernels.delta_encode(data, base, kind))
    if best is None or level.level >= 7:
        xored = np.bitwise_xor(np.frombuffer(data, np.uint8), np.frombuffer(base, np.uint8))
        inner, payload = chain.encode_chunk(memoryview(xored), dtype, level)
        cand = (XOR, check + bytes((inner,)) + payload)
        if best is None or len(cand[1]) < len(best[1]):
            best = cand
    if len(best[1]) > TRY_ALONE_ABOVE * len(data) or level.level >= 7:
        alone = chain.encode_chunk(data, dtype, level)
        if len(alone[1]) <= len(best[1]):
            best = alone
    return best


def same_bytes(a, b) -> bool:
    return len(a) == len(b) and np.array_equal(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))


def copy_payload(entry_number: int) -> bytes:
    return _COPY.pack(entry_number)


def copy_source(payload) -> int:
    """The entry number a COPY payload names (the reader checks it names an earlier
    entry of the same size and type)."""
    if len(payload) != _COPY.size:
        raise CorruptDataError(f"copy payload is {len(payload)} bytes, must be {_COPY.size}")
    return _COPY.unpack(payload)[0]


def decode_chunk(codec: int, payload, dtype: DType, out: memoryview, base) -> None:
    """Decode a chunk coded against `base` (its base chunk, or None when the codec
    needs none) into `out`. BaseChunkMismatch when the base is not the one it was
    coded against."""
    if codec not in NEEDS_BASE:
        chain.decode_chunk(codec, payload, dtype, out)
        return
    payload = memoryview(payload)
    if len(base) != len(out):
        raise CorruptDataError(f"base chunk holds {len(base)} bytes, the chunk {len(out)}")
    if codec == BASE:
        if len(payload):
            raise CorruptDataError(f"base chunk payload holds {len(payload)} bytes, must be empty")
        out[:] = base  # the caller's checksum of the result says whether it was the right base
        return
    if len(payload) < _CHECK.size:  # ends inside a structure it declares: truncated (spec/FORMAT.md 1)
        raise TruncatedDataError("payload ends before its base checksum")
    (expected,) = _CHECK.unpack_from(payload)
    got = checksum(base)
    if got != expected:
        raise BaseChunkMismatch(expected, got)
    body = payload[_CHECK.size :]
    if codec == DELTA:
        kind = chain.float_kind(dtype)
        if kind is None:
            raise CorruptDataError(f"delta codec used for dtype {dtype.name}")
        try:
            _kernels.delta_decode(body, base, kind, out)
        except CorruptDataError as exc:
            raise type(exc)(f"delta payload: {exc}") from None
        return
    if not len(body):
        raise TruncatedDataError("xor payload ends before its inner codec")
    inner = body[0]
    if inner in NEEDS_BASE or inner == COPY:
        raise CorruptDataError(f"xor payload's inner codec {inner} is itself against a base")
    chain.decode_chunk(inner, body[1:], dtype, out)
    o = np.frombuffer(out, np.uint8)
    np.bitwise_xor(o, np.frombuffer(base, np.uint8), out=o)
