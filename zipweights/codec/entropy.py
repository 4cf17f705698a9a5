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
from ..errors import CorruptDataError

RAW = 0
ZSTD = 1
ENT = 2  # the kernels' order-0 rANS byte coder (spec/CODERS.md section 2)
NAMES = {RAW: "raw", ZSTD: "zstd", ENT: "ent"}

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
    e = _kernels.ent_encode(data)
    if len(e) < len(best[1]):
        best = (ENT, e)
    if zstd_level > 0:
        z = _compressor(zstd_level).compress(data)
        if len(z) < len(best[1]):
            best = (ZSTD, z)
    return best


def decode(coder: int, payload, out: memoryview) -> None:
    """Decode `payload` into `out`, which is exactly the stream's decoded size."""
    n = len(out)
    if coder == RAW:
        if len(payload) != n:
            raise CorruptDataError(f"raw stream holds {len(payload)} bytes, expected {n}")
        out[:] = payload
    elif coder == ZSTD:
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
    elif coder == ENT:
        try:
            _kernels.ent_decode(payload, out)
        except ValueError as exc:
            raise CorruptDataError(f"ent stream: {exc}") from None
    else:
        from ..errors import UnsupportedFeatureError

        raise UnsupportedFeatureError(f"unknown stream coder {coder}")
