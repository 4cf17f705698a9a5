"""Stream coders: how one byte stream (a plane) is stored.

Each coder has a small integer id that is written in front of the stream (see
spec/FORMAT.md, "Stream coders"). The encoder tries what the level allows and keeps
the smallest; RAW is always a candidate, so a stream never grows by more than its
5-byte stream header.
"""

from __future__ import annotations

import threading

import zstandard

from .. import _kernels
from ..errors import CorruptDataError, UnsupportedFeatureError
from . import registry

RAW = 0
ZSTD = 1
ENT = 2  # the kernels' order-0 rANS byte coder (spec/CODERS.md section 2)

_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    # Compression contexts are not thread-safe and costly to create: one per thread and level.
    cache = getattr(_local, "cctx", None)
    if cache is None:
        cache = _local.cctx = {}
    cctx = cache.get(level)
    if cctx is None:
        cctx = cache[level] = zstandard.ZstdCompressor(
            level=level, write_content_size=True, write_checksum=False, write_dict_id=False
        )
    return cctx


def _decompressor() -> zstandard.ZstdDecompressor:
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx


_ZSTD_MAGIC = 0xFD2FB528


def zstd_frame_size(payload) -> int:
    """Bytes of the Zstandard frame at the start of `payload` (RFC 8878 section 3.1.1:
    the frame header, blocks up to the one marked last, the optional checksum), found
    from the block headers alone; CorruptDataError when it runs past the end."""
    try:
        pos = zstandard.frame_header_size(payload)
    except zstandard.ZstdError as exc:
        raise CorruptDataError(f"zstd stream header invalid: {exc}") from None
    if len(payload) < 5 or int.from_bytes(payload[:4], "little") != _ZSTD_MAGIC:
        raise CorruptDataError("zstd stream is not a Zstandard frame")
    checksum = 4 if payload[4] & 0x04 else 0
    end = len(payload)
    while True:
        if end - pos < 3:
            raise CorruptDataError("zstd stream truncated inside its blocks")
        head = int.from_bytes(payload[pos : pos + 3], "little")
        btype, size = (head >> 1) & 3, head >> 3
        if btype == 3:
            raise CorruptDataError("zstd stream holds a block of the reserved type")
        pos += 3 + (1 if btype == 1 else size)
        if pos > end:
            raise CorruptDataError("zstd stream truncated inside a block")
        if head & 1:
            return pos + checksum


def encode(data, zstd_level: int) -> tuple[int, bytes]:
    """Code one stream; return (coder id, payload), the smallest the level tried."""
    best = (RAW, bytes(data))
    if len(data) < 32:
        return best
    # Order-0 coding is what most planes need (exponents, bitmaps); zstd wins where
    # there are repeats to find (integer tensors, ids, text). Keep the smaller.
    for coder in (ENT, ZSTD):
        payload = CODERS[coder].encode(data, zstd_level)
        if payload is not None and len(payload) < len(best[1]):
            best = (coder, payload)
    return best


def decode(coder: int, payload, out: memoryview) -> None:
    """Decode `payload` into `out`, which is exactly the stream's decoded size."""
    row = CODERS.get(coder)
    if row is None:
        raise UnsupportedFeatureError(f"unknown stream coder {coder}")
    row.decode(payload, out)


def _encode_raw(data, zstd_level: int) -> bytes:
    return bytes(data)


def _decode_raw(payload, out: memoryview) -> None:
    if len(payload) != len(out):
        raise CorruptDataError(f"raw stream holds {len(payload)} bytes, expected {len(out)}")
    out[:] = payload


def _encode_zstd(data, zstd_level: int) -> bytes | None:
    return _compressor(zstd_level).compress(data) if zstd_level > 0 else None


def _decode_zstd(payload, out: memoryview) -> None:
    n = len(out)
    try:
        declared = zstandard.frame_content_size(payload)
    except zstandard.ZstdError as exc:
        raise CorruptDataError(f"zstd stream header invalid: {exc}") from None
    if declared != n:  # checked before zstd allocates anything
        raise CorruptDataError(f"zstd stream declares {declared} bytes, expected {n}")
    size = zstd_frame_size(payload)
    if size != len(payload):  # the spec says one frame: nothing may follow it
        raise CorruptDataError(f"zstd stream holds {len(payload) - size} bytes after its frame")
    try:
        raw = _decompressor().decompress(payload)
    except zstandard.ZstdError as exc:
        raise CorruptDataError(f"zstd stream invalid: {exc}") from None
    if len(raw) != n:
        raise CorruptDataError(f"zstd stream decoded to {len(raw)} bytes, expected {n}")
    out[:] = raw


def _encode_ent(data, zstd_level: int) -> bytes:
    return _kernels.ent_encode(data)


def _decode_ent(payload, out: memoryview) -> None:
    try:
        _kernels.ent_decode(payload, out)
    except ValueError as exc:
        raise CorruptDataError(f"ent stream: {exc}") from None


# The stream coders, one row each, as spec/FORMAT.md section 7.3 lists them:
# encode(data, zstd_level) -> payload or None, decode(payload, out).
CODERS = registry.table(
    registry.Row(RAW, "raw", _encode_raw, _decode_raw),
    registry.Row(ZSTD, "zstd", _encode_zstd, _decode_zstd),
    registry.Row(ENT, "ent", _encode_ent, _decode_ent),
)
NAMES = registry.names(CODERS)
