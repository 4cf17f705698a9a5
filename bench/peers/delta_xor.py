"""XOR of the bit patterns + byte planes + zstd-3: the classic lossless fine-tune delta
(ZipNN's and ZipLLM's BitX idea), written here with numpy + zstandard.

Each tensor of the fine-tune with a base tensor of the same name, dtype and shape is
XORed with it, value by value; other tensors are kept as they are. Tensors are cut into
segments of at most 1 MiB (whole values), each segment split into byte planes (byte i of
every value together) and each plane coded with zstd level 3. Segments are coded and
decoded on T Python threads (numpy and zstd release the GIL). The safetensors header is
stored zstd'd. No base check (a bench tool): the restore is checked by sha256 outside.

Layout: b"XZB1", u64 file size, u64 prefix size, u64 n, zstd(prefix) of n bytes, u32
segments; per segment u64 begin, u64 end, u64 base begin (or 2**64-1: no base), u8
width, then per plane u64 n + zstd frame.
"""
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import zstandard

from .delta_base import DeltaTool, read_file, st_header, write_file

LEVEL = 3
SEG = 1 << 20
NOBASE = (1 << 64) - 1
WIDTH = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I64": 8, "U64": 8, "I32": 4, "U32": 4,
         "I16": 2, "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1}

_tls = threading.local()


def _cctx():
    c = getattr(_tls, "c", None)
    if c is None:
        c = _tls.c = zstandard.ZstdCompressor(level=LEVEL)
    return c


def _dctx():
    d = getattr(_tls, "d", None)
    if d is None:
        d = _tls.d = zstandard.ZstdDecompressor()
    return d


def segments(ft, base):
    """[(begin, end, base_begin or NOBASE, width)] covering the fine-tune's data."""
    start, ts = st_header(ft)
    bts = st_header(base)[1] if base is not None else {}
    out, pos = [], start
    for name, (dtype, shape, b, e) in ts.items():
        if b != pos:
            raise ValueError("non-contiguous safetensors data")
        pos = e
        w = WIDTH.get(dtype, 1)
        m = bts.get(name)
        bb = m[2] if m is not None and m[0] == dtype and m[1] == shape and m[3] - m[2] == e - b else NOBASE
        step = max(w, SEG - SEG % w)
        for s in range(b, e, step):
            out.append((s, min(e, s + step), NOBASE if bb == NOBASE else bb + (s - b), w))
    if pos != len(ft):
        raise ValueError("trailing bytes after the tensors")
    return start, out


def encode(ft, base, threads):
    ft_mv = memoryview(ft)
    start, segs = segments(ft, base)
    fta = np.frombuffer(ft, np.uint8)
    ba = np.frombuffer(base, np.uint8) if base is not None else None

    def one(seg):
        b, e, bb, w = seg
        x = fta[b:e]
        if bb != NOBASE:
            x = x ^ ba[bb:bb + (e - b)]
        planes = x.reshape(-1, w).T if w > 1 else x.reshape(1, -1)
        c = _cctx()
        parts = [struct.pack("<QQQB", b, e, bb, w)]
        for p in planes:
            f = c.compress(np.ascontiguousarray(p).data)
            parts += [struct.pack("<Q", len(f)), f]
        return b"".join(parts)

    with ThreadPoolExecutor(max(1, threads)) as ex:
        body = list(ex.map(one, segs))
    zp = _cctx().compress(ft_mv[:start])
    return b"".join([b"XZB1", struct.pack("<QQQ", len(ft), start, len(zp)), zp,
                     struct.pack("<I", len(segs))] + body)


def decode(blob, base, threads):
    mv = memoryview(blob)
    if bytes(mv[:4]) != b"XZB1":
        raise ValueError("not an XZB1 blob")
    total, start, zn = struct.unpack_from("<QQQ", mv, 4)
    pos = 28
    out = bytearray(total)
    out[:start] = _dctx().decompress(mv[pos:pos + zn], max_output_size=start)
    pos += zn
    (n,) = struct.unpack_from("<I", mv, pos)
    pos += 4
    segs = []
    for _ in range(n):
        b, e, bb, w = struct.unpack_from("<QQQB", mv, pos)
        pos += 25
        frames = []
        for _p in range(w):
            (k,) = struct.unpack_from("<Q", mv, pos)
            frames.append(mv[pos + 8:pos + 8 + k])
            pos += 8 + k
        segs.append((b, e, bb, w, frames))
    oa = np.frombuffer(out, np.uint8)
    ba = np.frombuffer(base, np.uint8) if base is not None else None

    def one(seg):
        b, e, bb, w, frames = seg
        cnt = (e - b) // w
        d = _dctx()
        planes = [np.frombuffer(d.decompress(f, max_output_size=cnt), np.uint8) for f in frames]
        x = oa[b:e].reshape(-1, w) if w > 1 else oa[b:e].reshape(-1, 1)
        for i, p in enumerate(planes):
            x[:, i] = p
        if bb != NOBASE:
            np.bitwise_xor(oa[b:e], ba[bb:bb + (e - b)], out=oa[b:e])

    with ThreadPoolExecutor(max(1, threads)) as ex:
        list(ex.map(one, segs))
    return out


class XorZstd(DeltaTool):
    name = "xor+zstd3"
    version = f"numpy {np.__version__}, zstandard {zstandard.__version__}"
    note = "XOR with the base tensor, byte planes, zstd-3 per 1 MiB segment and plane, on T Python threads"

    def compress(self, ft, base, dst, threads):
        write_file(dst, encode(read_file(ft), read_file(base.raw), threads))

    def decompress(self, src, base, out, threads):
        write_file(out, decode(read_file(src), self.restore_bytes(base, threads), threads))

    def decode_bytes(self, blob, base, threads):
        return bytes(decode(blob, base, threads))


def tools():
    return [XorZstd()]
