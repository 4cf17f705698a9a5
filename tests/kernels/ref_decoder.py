"""A slow pure-Python decoder written from spec/CODERS.md and spec/FORMAT.md alone. The
tests decode real kernel payloads and whole golden .zipw files with it (delta files
with their bases) to check that the specification is complete and exact.

Nothing here is taken from the C kernels or from zipweights: where the two disagree
with this file, the spec is what settles it. Errors are the spec's errors, one class
each (Truncated and ChecksumMismatch are kinds of Corrupt, as in the spec's table)."""

from __future__ import annotations

import struct


class Corrupt(ValueError):
    """corrupted: a structure or payload breaks a MUST rule"""


class Truncated(Corrupt):
    """truncated: the data ends inside a structure it declares"""


class ChecksumMismatch(Corrupt):
    """decoded bytes do not hash to their stored checksum"""


class WrongBase(ValueError):
    """wrong base (spec/FORMAT.md 5.4): the base given is not the one the file was coded against"""


class Unsupported(ValueError):
    """unsupported version or feature: a reserved id this version does not define"""


class LimitExceeded(ValueError):
    """a declared size beyond a limit of spec/FORMAT.md 8"""


class BitReader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def bit(self) -> int:
        if self.pos >> 3 >= len(self.data):
            raise Truncated("bit stream overrun")
        b = (self.data[self.pos >> 3] >> (self.pos & 7)) & 1
        self.pos += 1
        return b

    def bits(self, nb: int) -> int:
        return sum(self.bit() << i for i in range(nb))

    def gamma(self) -> int:
        nb = 0
        while not self.bit():
            nb += 1
            if nb > 24:
                raise Corrupt("gamma too long")
        return (1 << nb) | self.bits(nb)


def weight(q: int) -> int:
    return q if q < 32 else (16 + (q - 32) % 16) << (1 + (q - 32) // 16)


def read_table(br: BitReader, B: int, P: int = 12) -> dict[int, int]:
    A = 1 << B
    nused = br.bits(B + 1)
    if not 1 <= nused <= min(A, 1 << P):
        raise Corrupt("nused")
    q, s, pq = {}, -1, 0
    for k in range(nused):
        s += br.gamma()
        if s >= A:
            raise Corrupt("symbol out of range")
        if k == 0:
            v = br.bits(8)
        else:
            z = br.gamma() - 1
            v = pq + (-((z + 1) >> 1) if z & 1 else z >> 1)
        if not 1 <= v <= 191:
            raise Corrupt("weight code")
        q[s], pq = v, v
    return q


def normalize(q: dict[int, int], M: int = 4096) -> list[tuple[int, int, int]]:
    syms = sorted(q)
    w = [weight(q[s]) for s in syms]
    W = sum(w)
    imax = w.index(max(w))
    f = [max(1, wi * M // W) for wi in w]
    S = sum(f)
    if S < M:
        f[imax] += M - S
    if S > M:
        E = S - M
        D = sum(fi - 1 for fi in f)
        f = [fi - (fi - 1) * E // D for fi in f]
        left = sum(f) - M
        while left > 0:
            for i in range(len(f)):
                if left and f[i] > 1:
                    f[i] -= 1
                    left -= 1
    out, start = [], 0
    for s, fi in zip(syms, f):
        out.append((s, fi, start))
        start += fi
    return out  # (symbol, freq, start)


def decoding_order(n: int) -> list[tuple[int, int]]:
    """(symbol j, lane) in the decoding order of spec/CODERS.md 1.3."""
    seg = 16 * (n // 512)
    order = [(l * seg + i, l) for i in range(seg) for l in range(32)]
    return order + [(32 * seg + t, t % 32) for t in range(n - 32 * seg)]


def rans_decode(stream: bytes, n: int, tables, nextctx, P: int = 12, ctx_of=None, finish: bool = True):
    """The 32-lane stream (spec/CODERS.md 1.3). The context of symbol j is the lane's,
    set by nextctx of its previous symbol, or, given `ctx_of`, ctx_of(j) (the delta
    payload's contexts come from the base, not from the symbols). finish=False: the
    symbols and a function that makes the checks after the last symbol (the delta
    payload checks its extra bits before them)."""
    if len(stream) < 128:
        raise Truncated("short stream")
    x = list(struct.unpack_from("<32I", stream))
    if any(not (1 << 15) <= v < (1 << 31) for v in x):
        raise Corrupt("state")
    slot_maps = []
    for t in tables:
        m = [None] * (1 << P)
        for s, f, st in t:
            for k in range(st, st + f):
                m[k] = (s, f, st)
        slot_maps.append(m)
    pos, ctx = 128, [0] * 32
    out = [0] * n
    for j, l in decoding_order(n):
        slot = x[l] & ((1 << P) - 1)
        s, f, st = slot_maps[ctx[l] if ctx_of is None else ctx_of(j)][slot]
        x[l] = f * (x[l] >> P) + slot - st
        if ctx_of is None:
            ctx[l] = nextctx(s)
        if x[l] < (1 << 15):
            if pos + 2 > len(stream):
                raise Truncated("no word left")
            x[l] = (x[l] << 16) | struct.unpack_from("<H", stream, pos)[0]
            pos += 2
        out[j] = s
    def final():
        if any(v != 1 << 15 for v in x) or pos != len(stream):
            raise Corrupt("final state / trailing bytes")

    if not finish:
        return out, final
    final()
    return out


def _u32(p: bytes, pos: int, what: str) -> int:
    if pos + 4 > len(p):
        raise Truncated(what)
    return struct.unpack_from("<I", p, pos)[0]


def _slice(p: bytes, pos: int, n: int, what: str) -> bytes:
    if pos + n > len(p):
        raise Truncated(what)
    return p[pos : pos + n]


def ent_decode(p: bytes, n: int) -> bytes:
    if len(p) < 5:
        raise Truncated("header")
    mode, dn = p[0], struct.unpack_from("<I", p, 1)[0]
    if mode > 2:
        raise Corrupt("mode")
    if dn != n:
        raise Corrupt("size")
    if mode == 0:
        if len(p) != 5 + n:
            raise (Truncated if len(p) < 5 + n else Corrupt)("length")
        return p[5:]
    if mode == 1:
        if len(p) != 6:
            raise (Truncated if len(p) < 6 else Corrupt)("length")
        return bytes([p[5]]) * n
    tlen = _u32(p, 5, "table length")
    br = BitReader(_slice(p, 9, tlen, "table"))
    t = normalize(read_table(br, 8))
    if (br.pos + 7) // 8 != tlen:
        raise Corrupt("table bytes")
    return bytes(rans_decode(p[9 + tlen :], n, [t], lambda s: 0))


KINDS = {0: (2, 8, 9), 1: (2, 5, 6), 2: (4, 8, 9)}  # value size, EB, Bmin


def float_decode(p: bytes, kind: int, nbytes: int) -> bytes:
    size, EB, Bmin = KINDS[kind]
    n = nbytes // size
    if len(p) < 6:
        raise Truncated("header")
    if p[0] != kind or struct.unpack_from("<I", p, 2)[0] != n:
        raise Corrupt("header")
    if p[1] == 0:
        if len(p) != 6 + nbytes:
            raise (Truncated if len(p) < 6 + nbytes else Corrupt)("length")
        return p[6:]
    if p[1] not in (1, 2):
        raise Corrupt("mode")
    signed = p[1] == 2  # contexts split by the previous value's sign too
    if len(p) < 9:
        raise Truncated("header")
    B, C, P = p[6], p[7], p[8]
    if not Bmin <= B <= 12 or not 1 <= C <= 16 or not 11 <= P <= 14 or (signed and C % 2):
        raise Corrupt("B/C/P")
    E = (1 << EB) - 1
    ce = C // 2 if signed else C  # exponent contexts
    t = list(_slice(p, 9, ce - 1, "thresholds"))
    if any(v > E for v in t) or any(a >= b for a, b in zip(t, t[1:])):
        raise Corrupt("thresholds")
    pos = 9 + ce - 1
    tlen = _u32(p, pos, "table length")
    pos += 4
    br = BitReader(_slice(p, pos, tlen, "tables"))
    tables = [normalize(read_table(br, B, P), 1 << P) for _ in range(C)]
    if (br.pos + 7) // 8 != tlen:
        raise Corrupt("table bytes")
    pos += tlen
    planes = []
    if kind == 2:
        for _ in range(2):
            ln = _u32(p, pos, "plane length")
            planes.append(ent_decode(_slice(p, pos + 4, ln, "plane"), n))
            pos += 4 + ln
    w = 16 - B
    rlen = (n * w + 7) // 8
    rest = int.from_bytes(_slice(p, pos, rlen, "raw bits"), "little")
    pos += rlen

    def nextctx(s):
        e = (s >> (B - 1 - EB)) & E
        return sum(1 for v in t if v <= e) + (ce if signed and s >> (B - 1) else 0)

    syms = rans_decode(p[pos:], n, tables, nextctx, P)
    out = bytearray()
    for j, s in enumerate(syms):
        h = (s << w) | ((rest >> (j * w)) & ((1 << w) - 1))
        if kind == 2:
            out += struct.pack("<I", (h << 16) | (planes[0][j] << 8) | planes[1][j])
        else:
            out += struct.pack("<H", h)
    return bytes(out)


# -- the delta payload (spec/CODERS.md 4) ------------------------------------------------
DELTA_KINDS = {0: (16, 8), 1: (16, 5), 2: (32, 8)}  # W bits, EB exponent bits


def delta_decode(p: bytes, kind: int, base: bytes, nbytes: int) -> bytes:
    """The `nbytes` bytes a delta payload codes against `base` (its base chunk)."""
    if kind not in DELTA_KINDS:
        raise ValueError(f"kind {kind}")  # ZW_EARG: the caller's mistake, not the payload's
    W, EB = DELTA_KINDS[kind]
    if len(base) != nbytes or nbytes % (W // 8):
        raise ValueError("base and destination sizes")
    n = nbytes // (W // 8)
    S, Mk, emask = 1 << (W - 1), (1 << W) - 1, (1 << EB) - 1
    if len(p) < 13:
        raise Truncated("header")
    if p[0] != kind:
        raise Corrupt("kind")
    op = p[1]
    if op > 1:
        raise Corrupt("op")
    if struct.unpack_from("<I", p, 2)[0] != n:
        raise Corrupt("n")
    C, elo, P = p[6], p[7], p[8]
    if not 1 <= C <= 16:
        raise Corrupt("C")
    if elo > emask:
        raise Corrupt("elo")
    if not 11 <= P <= 14:
        raise Corrupt("P")
    B, T = (6, 40) if W == 16 else (7, 72)
    tlen = struct.unpack_from("<I", p, 9)[0]
    br = BitReader(_slice(p, 13, tlen, "tables"))
    tables = []
    for _ in range(C):
        q = read_table(br, B, P)
        if max(q) >= T:
            raise Corrupt(f"token {max(q)} >= {T}")
        tables.append(normalize(q, 1 << P))
    if (br.pos + 7) // 8 != tlen:
        raise Corrupt("table bytes")
    pos = 13 + tlen
    xlen = _u32(p, pos, "extra bits length")
    extra = BitReader(_slice(p, pos + 4, xlen, "extra bits"))
    pos += 4 + xlen
    fmt = "<%d%s" % (n, "H" if W == 16 else "I")
    b = struct.unpack(fmt, base)
    # the context of value j is its base value's exponent, not the previous symbol's
    ctx = [min(max(((bj >> (W - 1 - EB)) & emask) - elo, 0), C - 1) for bj in b]
    # the order of the checks is section 4's: the stream's errors while decoding, the
    # extra bits, then the stream's checks after the last symbol
    tokens, final = rans_decode(p[pos:], n, tables, None, P, ctx_of=ctx.__getitem__, finish=False)
    z = [0] * n
    for j, _ in decoding_order(n):
        k = tokens[j]
        if k < 16:
            z[j] = k
        else:
            L, h = 4 + (k - 16) // 2, (k - 16) & 1
            z[j] = (1 << L) + (h << (L - 1)) + extra.bits(L - 1)  # past the end: Truncated
    if (extra.pos + 7) // 8 != xlen:
        raise Corrupt("extra bytes left unread")
    if extra.pos % 8 and extra.data[-1] >> (extra.pos % 8):
        raise Corrupt("non-zero padding bits")
    final()

    def order_of(v):  # sorts bit patterns as the values they encode
        return v ^ Mk if v & S else v ^ S

    def from_order(o):
        return o ^ S if o & S else o ^ Mk

    t = []
    for bj, zj in zip(b, z):
        if op == 1:
            t.append(bj ^ zj)
        else:
            d = ((zj >> 1) ^ (0 - (zj & 1))) & Mk
            t.append(from_order((order_of(bj) + d) & Mk))
    return struct.pack(fmt, *t)


# -- the container (spec/FORMAT.md) --------------------------------------------------------
MAGIC, TRAILER_MAGIC = b"\x89ZIPW\r\n\x1a", b"ZIPWIDX\x00"


class BadMagic(ValueError):
    """not a zipweights file"""


class NoBase(ValueError):
    """the file needs its base model and none was given (where to look is not the format's)"""


# id: (safetensors name, bits, split unit, rotate)   spec/FORMAT.md 6
DTYPES = {
    0: ("OPAQUE", 8, 1, False), 1: ("BOOL", 8, 1, False), 2: ("U8", 8, 1, False), 3: ("I8", 8, 1, False),
    4: ("U16", 16, 2, False), 5: ("I16", 16, 2, False), 6: ("U32", 32, 4, False), 7: ("I32", 32, 4, False),
    8: ("U64", 64, 8, False), 9: ("I64", 64, 8, False), 10: ("F16", 16, 2, True), 11: ("BF16", 16, 2, True),
    12: ("F32", 32, 4, True), 13: ("F64", 64, 8, True), 14: ("F8_E4M3", 8, 1, False),
    15: ("F8_E5M2", 8, 1, False), 16: ("F8_E8M0", 8, 1, False), 17: ("C64", 64, 4, True),
    18: ("F4", 4, 1, False), 19: ("F6_E2M3", 6, 1, False), 20: ("F6_E3M2", 6, 1, False),
}
FLOAT_KIND = {"BF16": 0, "F16": 1, "F32": 2, "C64": 2}  # codecs FLOAT and DELTA (spec/FORMAT.md 7)
STORE, PLANES, FLOAT, SPARSE, DELTA, XOR, BASE, COPY = range(8)
LOCATION_LIMIT = 65536


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Truncated("index ends inside a structure")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def _location(data: bytes) -> dict:
    import json

    def pairs(kv):
        if len({k for k, _ in kv}) != len(kv):
            raise Corrupt("duplicate key in the base location")
        return dict(kv)

    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Corrupt(f"base location: {exc}") from None
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise Corrupt("the base location is not one object of strings")
    return obj


def read_zipw(z: bytes) -> dict:
    """Header, trailer and index (spec/FORMAT.md 3-5.2) with their rules checked; the
    kept safetensors header's rules (5.3) are not checked here."""
    import xxhash

    if len(z) < 48:
        raise Truncated("file")
    if z[:8] != MAGIC:
        raise BadMagic("magic")
    version, flags, reserved = struct.unpack_from("<HHI", z, 8)
    if version > 2:
        raise Unsupported(f"version {version}")
    if version == 0 or reserved:
        raise Corrupt("version 0 or reserved header bytes")
    if flags:
        raise Unsupported("flags")
    ioff, ilen, ihash, tmagic = struct.unpack_from("<QQQ8s", z, len(z) - 32)
    if tmagic != TRAILER_MAGIC:
        raise Truncated("trailer magic")
    if ilen > 1 << 31:
        raise LimitExceeded("index")
    if ioff < 16 or ioff + ilen != len(z) - 32:
        raise Corrupt("index position")
    idx = z[ioff : ioff + ilen]
    if xxhash.xxh3_64_intdigest(idx) != ihash:
        raise ChecksumMismatch("index")
    cur = _Cursor(idx)
    size, sha, source_kind, has_base, reserved6, plen = cur.unpack("<Q32sBB6sQ")
    if reserved6 != bytes(6) or has_base > 1 or (version == 1 and has_base):
        raise Corrupt("index head")
    if source_kind > 1:
        raise Unsupported("source kind")
    if plen > 100_000_008:
        raise LimitExceeded("prefix")
    if plen > size:
        raise Corrupt("prefix longer than the original")
    f = {"version": version, "original_size": size, "sha256": sha, "source_kind": source_kind,
         "prefix": cur.take(plen), "base": None, "entries": []}
    if has_base:
        bsha, bsize, bxxh, loc_len = cur.unpack("<32sQQI")
        if loc_len > LOCATION_LIMIT:
            raise LimitExceeded("base location")
        f["base"] = {"sha256": bsha, "size": bsize, "prefix_xxh3": bxxh, "location": _location(cur.take(loc_len))}
    (count,) = cur.unpack("<I")
    if count > 1 << 21:
        raise LimitExceeded("entries")
    at, names, payload_at = plen, set(), 16
    for _ in range(count):
        kind, dtype, ndim, transform, nlen = cur.unpack("<BBBBI")
        name = cur.take(nlen)
        if kind > 1 or dtype not in DTYPES or transform > 1:
            raise Unsupported("entry kind, dtype or transform")
        if transform == 1 and f["base"] is None:
            raise Corrupt("transform 1 without a base record")
        if ndim > 64:
            raise LimitExceeded("dimensions")
        try:
            name = name.decode("utf-8")
        except UnicodeDecodeError:
            raise Corrupt("name") from None
        shape = cur.unpack(f"<{ndim}Q")
        offset, length, csize, nchunks = cur.unpack("<QQII")
        _, bits, unit, _ = DTYPES[dtype]
        numel = 1
        for d in shape:
            numel *= d
        if offset != at or length > size - offset or length % unit:
            raise Corrupt("entries do not tile the original")
        if kind == 0 and (dtype != 0 and numel * bits != 8 * length or name in names):
            raise Corrupt("shape, or a repeated name")
        names.add(name if kind == 0 else None)
        if csize == 0 or csize % unit:
            raise Corrupt("chunk size")
        if csize > 1 << 26:
            raise LimitExceeded("chunk size")
        if nchunks != -(-length // csize):
            raise Corrupt("chunk count")
        at += length
        chunks = []
        for _ in range(nchunks):
            po, pl, codec, r3, ck = cur.unpack("<QIB3sQ")
            if r3 != bytes(3):
                raise Corrupt("chunk row reserved bytes")
            if po != payload_at or po + pl > ioff:
                raise Corrupt("payloads do not tile the payload area")
            payload_at += pl
            if codec in (DELTA, XOR, BASE) and transform != 1 or DELTA <= codec <= COPY and version < 2:
                raise Corrupt(f"codec {codec} here")
            chunks.append({"codec": codec, "checksum": ck, "payload": z[po : po + pl]})
        f["entries"].append({"kind": kind, "dtype": dtype, "transform": transform, "name": name, "shape": shape,
                             "offset": offset, "length": length, "chunk_size": csize, "chunks": chunks})
    if at != size or payload_at != ioff:
        raise Corrupt("entries or payloads end early")
    if cur.pos != len(idx):
        raise Corrupt("bytes after the last entry")
    return f


def safetensors_tensors(original: bytes) -> dict:
    """name -> (dtype name, shape, data bytes) of a safetensors file (a base model)."""
    import json

    (n,) = struct.unpack_from("<Q", original)
    header = json.loads(original[8 : 8 + n])
    header.pop("__metadata__", None)
    start = 8 + n
    return {k: (v["dtype"], tuple(v["shape"]), original[start + v["data_offsets"][0] : start + v["data_offsets"][1]])
            for k, v in header.items()}


def _bits_of(dtype_name: str) -> int:
    for name, bits, _, _ in DTYPES.values():
        if name == dtype_name:
            return bits
    return 8  # OPAQUE, and the 8-bit names stored as OPAQUE


def _stream(p: bytes, pos: int, what: str) -> tuple[int, bytes, int]:
    if pos + 5 > len(p):
        raise Truncated(what)
    coder, length = struct.unpack_from("<BI", p, pos)
    return coder, _slice(p, pos + 5, length, what), pos + 5 + length


def stream_decode(coder: int, data: bytes, m: int) -> bytes:
    """A plane or a bitmap: spec/FORMAT.md 7.3."""
    if coder == 0:
        if len(data) != m:
            raise Corrupt("RAW stream length")
        return data
    if coder == 1:
        import zstandard

        try:
            if zstandard.frame_content_size(data) != m:
                raise Corrupt("ZSTD frame does not declare its size")
            d = zstandard.ZstdDecompressor().decompressobj()
            out = d.decompress(data)
        except zstandard.ZstdError as exc:
            raise Corrupt(f"zstd: {exc}") from None
        if not d.eof or d.unused_data or len(out) != m:
            raise Corrupt("ZSTD stream is not exactly one frame of m bytes")
        return out
    if coder == 2:
        return ent_decode(data, m)
    raise Unsupported(f"stream coder {coder}")


def _inner_codec(codec: int, allowed) -> None:
    if codec in allowed:
        return
    if codec <= COPY:
        raise Corrupt(f"inner codec {codec}")
    raise Unsupported(f"codec {codec}")


def decode_chunk(codec: int, p: bytes, dtype: int, n: int, base_chunk: bytes | None = None) -> bytes:
    """The n bytes of one chunk of an entry of dtype id `dtype` (spec/FORMAT.md 7);
    `base_chunk` for the codecs that read the base (COPY is the file's business)."""
    import xxhash

    name, _, unit, rotate = DTYPES[dtype]
    if codec == STORE:
        if len(p) != n:
            raise Corrupt("STORE length")
        return p
    if codec == PLANES:
        m, pos, planes = n // unit, 0, []
        for k in range(unit):
            coder, data, pos = _stream(p, pos, f"plane {k}")
            planes.append(stream_decode(coder, data, m))
        if pos != len(p):
            raise Corrupt("bytes after the last plane")
        out = bytearray()
        for i in range(m):
            v = 0
            for k in range(unit):
                v = (v << 8) | planes[k][i]
            if rotate:
                v = (v >> 1) | ((v & 1) << (8 * unit - 1))
            out += v.to_bytes(unit, "little")
        return bytes(out)
    if codec == FLOAT:
        if name not in FLOAT_KIND:
            raise Corrupt(f"FLOAT for {name}")
        return float_decode(p, FLOAT_KIND[name], n)
    if codec == SPARSE:
        m = n // unit
        if len(p) < 4:
            raise Truncated("nnz")
        (nnz,) = struct.unpack_from("<I", p)
        if nnz > m:
            raise Corrupt("nnz")
        coder, data, pos = _stream(p, 4, "bitmap")
        bitmap = stream_decode(coder, data, (m + 7) // 8)
        if pos >= len(p):
            raise Truncated("inner codec")
        _inner_codec(p[pos], (STORE, PLANES, FLOAT))
        values = decode_chunk(p[pos], p[pos + 1 :], dtype, nnz * unit)
        set_bits = [i for i in range(8 * len(bitmap)) if bitmap[i >> 3] >> (i & 7) & 1]
        if len(set_bits) != nnz or (set_bits and set_bits[-1] >= m):
            raise Corrupt("bitmap")
        out = bytearray(n)
        for k, i in enumerate(set_bits):
            out[i * unit : (i + 1) * unit] = values[k * unit : (k + 1) * unit]
        return bytes(out)
    if codec in (DELTA, XOR):
        if codec == DELTA and name not in FLOAT_KIND:
            raise Corrupt(f"DELTA for {name}")
        if len(p) < 8:
            raise Truncated("base_check")
        if struct.unpack_from("<Q", p)[0] != xxhash.xxh3_64_intdigest(base_chunk):
            raise WrongBase("the base chunk is not the one the payload was coded against")
        if codec == DELTA:
            return delta_decode(p[8:], FLOAT_KIND[name], base_chunk, n)
        if len(p) < 9:
            raise Truncated("inner codec")
        _inner_codec(p[8], (STORE, PLANES, FLOAT, SPARSE))
        inner = decode_chunk(p[8], p[9:], dtype, n)
        return bytes(a ^ b for a, b in zip(inner, base_chunk))
    if codec == BASE:
        if p:
            raise Corrupt("BASE payload not empty")
        return base_chunk
    raise Unsupported(f"codec {codec}")


def decode_file(z: bytes, base: bytes | None = None, check_base_sha256: bool = True) -> bytes:
    """The original file of the .zipw `z`; `base`: the original file (a safetensors
    file) of its base model, for a file with transform-1 entries."""
    import hashlib

    import xxhash

    f = read_zipw(z)
    rec, tensors = f["base"], None
    if any(e["transform"] == 1 for e in f["entries"]):
        if base is None:
            raise NoBase("needs its base model")
        if check_base_sha256 and hashlib.sha256(base).digest() != rec["sha256"]:
            raise WrongBase("base sha256")
        tensors = safetensors_tensors(base)
        for e in f["entries"]:
            if e["transform"] != 1:
                continue
            t = tensors.get(e["name"])
            if t is None or _bits_of(t[0]) != DTYPES[e["dtype"]][1] or t[1] != e["shape"]:
                raise WrongBase(f"base tensor {e['name']!r}")
    out, decoded = bytearray(f["prefix"]), {}
    for k, e in enumerate(f["entries"]):
        unit, C = DTYPES[e["dtype"]][2], e["chunk_size"]
        for i, c in enumerate(e["chunks"]):
            a, b = i * C, min((i + 1) * C, e["length"])
            if c["codec"] == COPY:
                if len(c["payload"]) != 4:
                    raise Corrupt("COPY payload length")
                (src,) = struct.unpack("<I", c["payload"])
                if src >= k:
                    raise Corrupt("COPY of an entry not before this one")
                s = f["entries"][src]
                if (DTYPES[s["dtype"]][2], s["chunk_size"]) != (unit, C) or i >= len(s["chunks"]) \
                        or min((i + 1) * C, s["length"]) != b:
                    raise Corrupt("COPY of an entry of another unit, chunk size or span")
                if s["chunks"][i]["codec"] == COPY:
                    raise Corrupt("COPY of a COPY")
                chunk = decoded[src, i]
            else:
                bc = tensors[e["name"]][2][a:b] if e["transform"] == 1 else None
                chunk = decode_chunk(c["codec"], c["payload"], e["dtype"], b - a, bc)
            if xxhash.xxh3_64_intdigest(chunk) != c["checksum"]:
                raise (WrongBase if c["codec"] == BASE else ChecksumMismatch)(f"entry {k} chunk {i}")
            decoded[k, i] = chunk
            out += chunk
    if hashlib.sha256(out).digest() != f["sha256"]:
        raise ChecksumMismatch("sha256")
    return bytes(out)
