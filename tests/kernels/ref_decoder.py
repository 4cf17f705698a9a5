"""A slow pure-Python decoder written from spec/CODERS.md alone. The tests decode real
kernel payloads with it to check that the specification is complete and exact."""

from __future__ import annotations

import struct


class Corrupt(ValueError):
    pass


class BitReader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def bit(self) -> int:
        if self.pos >> 3 >= len(self.data):
            raise Corrupt("bit stream overrun")
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


def rans_decode(stream: bytes, n: int, tables, nextctx, P: int = 12) -> list[int]:
    if len(stream) < 128:
        raise Corrupt("short stream")
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
    seg = 16 * (n // 512)
    order = [(l * seg + i, l) for i in range(seg) for l in range(32)]
    order += [(32 * seg + t, t % 32) for t in range(n - 32 * seg)]
    out = [0] * n
    for j, l in order:
        slot = x[l] & ((1 << P) - 1)
        s, f, st = slot_maps[ctx[l]][slot]
        x[l] = f * (x[l] >> P) + slot - st
        ctx[l] = nextctx(s)
        if x[l] < (1 << 15):
            if pos + 2 > len(stream):
                raise Corrupt("words")
            x[l] = (x[l] << 16) | struct.unpack_from("<H", stream, pos)[0]
            pos += 2
        out[j] = s
    if any(v != 1 << 15 for v in x) or pos != len(stream):
        raise Corrupt("final state / trailing bytes")
    return out


def ent_decode(p: bytes, n: int) -> bytes:
    if len(p) < 5:
        raise Corrupt("header")
    mode, dn = p[0], struct.unpack_from("<I", p, 1)[0]
    if dn != n:
        raise Corrupt("size")
    if mode == 0:
        if len(p) != 5 + n:
            raise Corrupt("length")
        return p[5:]
    if mode == 1:
        if len(p) != 6:
            raise Corrupt("length")
        return bytes([p[5]]) * n
    if mode != 2 or len(p) < 9:
        raise Corrupt("mode")
    tlen = struct.unpack_from("<I", p, 5)[0]
    if 9 + tlen > len(p):
        raise Corrupt("table length")
    br = BitReader(p[9 : 9 + tlen])
    t = normalize(read_table(br, 8))
    if (br.pos + 7) // 8 != tlen:
        raise Corrupt("table bytes")
    return bytes(rans_decode(p[9 + tlen :], n, [t], lambda s: 0))


KINDS = {0: (2, 8, 9), 1: (2, 5, 6), 2: (4, 8, 9)}  # value size, EB, Bmin


def float_decode(p: bytes, kind: int, nbytes: int) -> bytes:
    size, EB, Bmin = KINDS[kind]
    n = nbytes // size
    if len(p) < 6 or p[0] != kind or struct.unpack_from("<I", p, 2)[0] != n:
        raise Corrupt("header")
    if p[1] == 0:
        if len(p) != 6 + nbytes:
            raise Corrupt("length")
        return p[6:]
    if p[1] not in (1, 2):
        raise Corrupt("mode")
    signed = p[1] == 2  # contexts split by the previous value's sign too
    B, C, P = p[6], p[7], p[8]
    if not Bmin <= B <= 12 or not 1 <= C <= 16 or not 11 <= P <= 14 or (signed and C % 2):
        raise Corrupt("B/C/P")
    E = (1 << EB) - 1
    ce = C // 2 if signed else C  # exponent contexts
    t = list(p[9 : 9 + ce - 1])
    if any(v > E for v in t) or any(a >= b for a, b in zip(t, t[1:])):
        raise Corrupt("thresholds")
    pos = 9 + ce - 1
    tlen = struct.unpack_from("<I", p, pos)[0]
    pos += 4
    br = BitReader(p[pos : pos + tlen])
    tables = [normalize(read_table(br, B, P), 1 << P) for _ in range(C)]
    if (br.pos + 7) // 8 != tlen:
        raise Corrupt("table bytes")
    pos += tlen
    planes = []
    if kind == 2:
        for _ in range(2):
            ln = struct.unpack_from("<I", p, pos)[0]
            planes.append(ent_decode(p[pos + 4 : pos + 4 + ln], n))
            pos += 4 + ln
    w = 16 - B
    rlen = (n * w + 7) // 8
    rest = int.from_bytes(p[pos : pos + rlen], "little")
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
