"""The fixed-size frame of a .zipw file: the file header in front, the trailer at the end.

    file header (16 B) | chunk payloads ... | index | trailer (32 B)

The trailer points back at the index, so a writer can stream chunks out as they are
coded and write the index last, and a reader seeks to the end, reads the index, then
any chunk it needs. See spec/FORMAT.md for the normative description.
"""

from __future__ import annotations

import struct

from ..errors import (
    BadMagicError,
    CorruptDataError,
    TruncatedDataError,
    UnsupportedFeatureError,
    UnsupportedVersionError,
)

SUFFIX = ".zipw"  # the name a compressed file takes: X.safetensors -> X.safetensors.zipw
MAGIC = b"\x89ZIPW\r\n\x1a"
TRAILER_MAGIC = b"ZIPWIDX\x00"
FORMAT_VERSION = 2  # the newest this code reads; it writes 1 unless a file needs 2

HEADER = struct.Struct("<8sHHI")  # magic, version, flags, reserved
TRAILER = struct.Struct("<QQQ8s")  # index offset, index length, index xxh3-64, magic
HEADER_SIZE = HEADER.size
TRAILER_SIZE = TRAILER.size
KNOWN_FLAGS = 0  # no version defines flags; any set bit is a feature we lack


def write_header(version: int = 1) -> bytes:
    """The file header. Version 2 adds the base model and the chunk codecs against it
    (spec/FORMAT.md 10): a file that uses none is written as version 1, which every
    reader reads."""
    return HEADER.pack(MAGIC, version, 0, 0)


def read_header(data: bytes, where: str) -> int:
    """Check the file header; return the format version."""
    if 0 < len(data) < len(MAGIC) and MAGIC.startswith(bytes(data)):
        raise TruncatedDataError(f"{where}: file truncated inside the magic ({len(data)} bytes)")
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BadMagicError(
            f"{where}: not a zipweights file (expected magic {MAGIC!r}, found {bytes(data[:8])!r})"
        )
    if len(data) < HEADER_SIZE:
        raise TruncatedDataError(f"{where}: file header truncated ({len(data)} of {HEADER_SIZE} bytes)")
    _, version, flags, reserved = HEADER.unpack_from(data)
    if version > FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"{where}: format version {version} exceeds max supported {FORMAT_VERSION}; upgrade zipweights"
        )
    if version == 0:
        raise CorruptDataError(f"{where}: format version 0 is invalid")
    if flags & ~KNOWN_FLAGS:
        raise UnsupportedFeatureError(f"{where}: unknown header flags 0x{flags:04x}")
    if reserved != 0:
        raise CorruptDataError(f"{where}: reserved header field is 0x{reserved:08x}, must be 0")
    return version


def write_trailer(index_offset: int, index_length: int, index_hash: int) -> bytes:
    return TRAILER.pack(index_offset, index_length, index_hash, TRAILER_MAGIC)


def read_trailer(data: bytes, file_size: int, where: str) -> tuple[int, int, int]:
    """Check the trailer (the last TRAILER_SIZE bytes); return index offset, length, hash."""
    if file_size < HEADER_SIZE + TRAILER_SIZE:
        raise TruncatedDataError(
            f"{where}: {file_size} bytes is shorter than a header and a trailer "
            f"({HEADER_SIZE + TRAILER_SIZE} bytes): file truncated"
        )
    offset, length, index_hash, magic = TRAILER.unpack(data)
    if magic != TRAILER_MAGIC:
        raise TruncatedDataError(
            f"{where}: no trailer at offset {file_size - TRAILER_SIZE} (expected {TRAILER_MAGIC!r}, "
            f"found {magic!r}): file truncated or its end corrupted"
        )
    if offset < HEADER_SIZE or offset + length != file_size - TRAILER_SIZE:
        raise CorruptDataError(
            f"{where}: trailer says the index is {length} bytes at offset {offset}, but it must end "
            f"at offset {file_size - TRAILER_SIZE}"
        )
    return offset, length, index_hash
