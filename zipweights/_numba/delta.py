"""The delta coder (spec/CODERS.md 4), as csrc/delta.c's scalar path codes and checks it
(its SIMD paths give the same bytes): each value's difference from its base value, coded
with the table of the base value's exponent."""

from __future__ import annotations

import numpy as np

from . import errs as E
from .rans import (
    L,
    LANES,
    LOG2,
    MAXN,
    PBMAX,
    PBMIN,
    build_esym,
    bw_finish,
    bw_put,
    enc_put,
    jit,
    log2_floor,
    normalize,
    normalize_list,
    quantize_count,
    rd32,
    rdec_finish,
    rdec_init,
    seg_len,
    table_read_list,
    table_write,
    wr32,
)

HDR = 13  # kind, op, u32 n, C, elo, P, u32 table bytes
DIRECT = 16  # zigzagged differences below this are their own token
MAXCTX = 16
PENC = 11  # the encoder's precision: 16 contexts of 2^11 slots stay within a core's L2

# kind -> (bits per value, exponent bits, token alphabet bits, tokens in use)
KINDS = {0: (16, 8, 6, DIRECT + 2 * 12), 1: (16, 5, 6, DIRECT + 2 * 12), 2: (32, 8, 7, DIRECT + 2 * 28)}


def bound(nbytes: int) -> int:
    return 2 * nbytes + 16384


def check(nbytes: int, basebytes: int, kind: int):
    """zw_delta_check: the kind, whole values, a base of the same size, the limit"""
    if kind not in KINDS:
        E.raise_for(E.D_KIND, [kind])
    k = KINDS[kind]
    size = k[0] // 8
    if nbytes % size:
        E.raise_for(E.D_WHOLE, [nbytes, size])
    if basebytes != nbytes:
        E.raise_for(E.D_BASE, [basebytes, nbytes])
    if nbytes // size > MAXN:
        E.raise_for(E.F_LIMIT, [nbytes // size, MAXN])
    return k


@jit
def ldv(p, j, W):
    if W == 16:
        return np.int64(p[2 * j]) | (np.int64(p[2 * j + 1]) << 8)
    o = 4 * j
    return np.int64(p[o]) | (np.int64(p[o + 1]) << 8) | (np.int64(p[o + 2]) << 16) | (np.int64(p[o + 3]) << 24)


@jit
def stv(p, j, W, v):
    if W == 16:
        p[2 * j] = v & 0xFF
        p[2 * j + 1] = (v >> 8) & 0xFF
    else:
        o = 4 * j
        p[o] = v & 0xFF
        p[o + 1] = (v >> 8) & 0xFF
        p[o + 2] = (v >> 16) & 0xFF
        p[o + 3] = (v >> 24) & 0xFF


@jit
def ord_(v, S, M):
    # sign-magnitude to offset binary: negative flips every bit, positive sets the sign
    return v ^ (M if v & S else S)


@jit
def unord(o, S, M):
    return o ^ (S if o & S else M)


@jit
def diff_of(t, b, op, W, S, M):
    if op:
        return t ^ b
    d = (ord_(t, S, M) - ord_(b, S, M)) & M
    return ((d << 1) ^ (-(d >> (W - 1)))) & M


@jit
def apply(z, b, op, S, M):
    if op:
        return z ^ b
    d = ((z >> 1) ^ (-(z & 1))) & M
    return unord((ord_(b, S, M) + d) & M, S, M)


@jit
def token_of(z):
    """(token, number of raw bits below it)"""
    if z < DIRECT:
        return z, 0
    k = log2_floor(z)
    return DIRECT + 2 * (k - 4) + ((z >> (k - 1)) & 1), k - 1


@jit
def context_map(cmap, emask, elo, C):
    for e in range(emask + 1):
        c = e - elo
        cmap[e] = 0 if c < 0 else (C - 1 if c >= C else c)


@jit
def place_contexts(eh, emask, res):
    """res = (elo, C): all exponents the base uses when they span at most MAXCTX, else
    the MAXCTX consecutive ones holding the most values"""
    lo = -1
    hi = -1
    for e in range(emask + 1):
        if eh[e]:
            if lo < 0:
                lo = e
            hi = e
    if lo < 0:
        res[0] = 0
        res[1] = 1
        return
    if hi - lo + 1 <= MAXCTX:
        res[0] = lo
        res[1] = hi - lo + 1
        return
    run = np.int64(0)
    top = np.int64(0)
    best = 0
    for e in range(emask + 1):
        run += eh[e]
        if e >= MAXCTX:
            run -= eh[e - MAXCTX]
        if e >= MAXCTX - 1 and run > top:
            top = run
            best = e - (MAXCTX - 1)
    res[0] = best
    res[1] = MAXCTX


@jit
def context_table(hist, hoff, A, P, q, freq):
    """the weight codes q[0..A) and frequencies of one context's counts (an unused one
    still has a table: one symbol); the coded cost of the counts in 1/65536 bits"""
    tot = np.int64(0)
    for s in range(A):
        tot += hist[hoff + s]
    q[:A] = 0
    if not tot:
        q[0] = 1
    else:
        for s in range(A):
            if hist[hoff + s]:
                q[s] = quantize_count(hist[hoff + s], tot, P)
    normalize(q, 0, A, freq, P)
    cost = np.int64(0)
    for s in range(A):
        if hist[hoff + s]:
            cost += hist[hoff + s] * (np.int64(P) * 65536 - LOG2[freq[s]])
    return cost


@jit
def encode(src, base, n, kind, W, EB, B, out):
    """the payload of n values src against base into out (room for bound()); its length"""
    P = PENC
    A = 1 << B
    emask = (1 << EB) - 1
    es_shift = W - 1 - EB
    S = np.int64(1) << (W - 1)
    M = (np.int64(1) << W) - 1
    seg = seg_len(n)
    r = n - LANES * seg
    # both transforms counted in one pass; the one whose tables code smaller is used
    eh = np.zeros(256, np.int64)
    for j in range(n):
        eh[(ldv(base, j, W) >> es_shift) & emask] += 1
    res = np.zeros(2, np.int64)
    place_contexts(eh, emask, res)
    elo, C = res[0], res[1]
    cmap = np.zeros(256, np.int64)
    context_map(cmap, emask, elo, C)
    hist = np.zeros(2 * MAXCTX * A, np.int64)
    extra = np.zeros(2, np.int64)
    for j in range(n):
        t = ldv(src, j, W)
        b = ldv(base, j, W)
        cx = cmap[(b >> es_shift) & emask]
        for op in range(2):
            tk, nx = token_of(diff_of(t, b, op, W, S, M))
            hist[(op * MAXCTX + cx) * A + tk] += 1
            extra[op] += nx
    q = np.zeros((2, MAXCTX, 128), np.int64)
    freq = np.zeros((2, MAXCTX, 128), np.int64)
    cost = np.zeros(2, np.int64)
    for op in range(2):
        cost[op] = extra[op] << 16
        for c in range(C):
            cost[op] += context_table(hist, (op * MAXCTX + c) * A, A, P, q[op, c], freq[op, c])
    op = 1 if cost[1] < cost[0] else 0

    out[0] = kind
    out[1] = op
    wr32(out, 2, n)
    out[6] = C
    out[7] = elo
    out[8] = P
    pos = HDR
    es = np.zeros((MAXCTX * A, 5), np.int64)
    st = np.zeros(4, np.int64)
    st[0] = pos
    for c in range(C):
        build_esym(es, c * A, freq[op, c], A, P)
        table_write(out, st, q[op, c], 0, B)
    tlen = bw_finish(out, st)
    wr32(out, 9, tlen)
    pos += tlen
    # the raw bits in decoding order, so that the decoder reads them as it goes
    tok = np.empty(n, np.int64)
    st[:] = 0
    st[0] = pos + 4
    for i in range(seg):
        for l in range(LANES):
            j = l * seg + i
            z = diff_of(ldv(src, j, W), ldv(base, j, W), op, W, S, M)
            tk, nx = token_of(z)
            tok[j] = tk
            if nx:
                bw_put(out, st, z & ((np.int64(1) << nx) - 1), nx)
    for t in range(r):
        j = LANES * seg + t
        z = diff_of(ldv(src, j, W), ldv(base, j, W), op, W, S, M)
        tk, nx = token_of(z)
        tok[j] = tk
        if nx:
            bw_put(out, st, z & ((np.int64(1) << nx) - 1), nx)
    xlen = bw_finish(out, st)
    # rANS, in reverse decoding order
    wend = 4 * LANES + 2 * n + 2
    tmp = np.empty(wend, np.uint8)
    p = wend
    x = np.full(LANES, L, np.int64)
    for t in range(r - 1, -1, -1):
        j = LANES * seg + t
        cc = cmap[(ldv(base, j, W) >> es_shift) & emask]
        x[t % LANES], p = enc_put(x[t % LANES], es, cc * A + tok[j], tmp, p)
    for i in range(seg - 1, -1, -1):
        for l in range(LANES - 1, -1, -1):
            j = l * seg + i
            cc = cmap[(ldv(base, j, W) >> es_shift) & emask]
            x[l], p = enc_put(x[l], es, cc * A + tok[j], tmp, p)
    wr32(out, pos, xlen)
    pos += 4 + xlen
    p -= 4 * LANES
    for l in range(LANES):
        wr32(tmp, p + 4 * l, x[l])
    slen = wend - p
    out[pos:pos + slen] = tmp[p:wend]
    return pos + slen


@jit
def xr_get(p, xs, nb):
    """nb <= 30 raw bits. xs = [offset, length, bytes taken into the window, bits in the
    window, bits consumed, overrun]: csrc/delta.c's 64-bit window, kept as counts (the
    bits are read where they lie), so that its end check and message come out the same"""
    if xs[3] < nb:
        if xs[2] + 8 <= xs[1]:
            take = (63 - xs[3]) >> 3
            xs[2] += take
            xs[3] += take * 8
        else:
            while xs[3] <= 56 and xs[2] < xs[1]:
                xs[2] += 1
                xs[3] += 8
        if xs[3] < nb:
            xs[5] = 1
            xs[3] = nb
    bp = xs[4]
    v = np.int64(0)
    byte = bp >> 3
    sh = bp & 7
    need = (sh + nb + 7) >> 3
    for k in range(need):
        if byte + k < xs[1]:
            v |= np.int64(p[xs[0] + byte + k]) << (8 * k)
    xs[4] = bp + nb
    xs[3] -= nb
    return (v >> sh) & ((np.int64(1) << nb) - 1)


@jit
def untoken(tk, p, xs):
    if tk < DIRECT:
        return tk
    k = 4 + ((tk - DIRECT) >> 1)
    return (np.int64(1) << k) | (((tk - DIRECT) & 1) << (k - 1)) | xr_get(p, xs, k - 1)


@jit
def decode(p, ln, base, kind, W, EB, B, ntok, dst, n, info):
    """payload p[0..ln) against base into dst (n values); 0 or an error id. The caller
    has checked the kind, the sizes and the limit."""
    if ln < HDR:
        info[0] = HDR
        info[1] = ln
        return E.D_HEADER
    if p[0] != kind:
        info[0] = p[0]
        info[1] = kind
        return E.F_KIND_MISMATCH
    op = np.int64(p[1])
    if op > 1:
        info[0] = op
        return E.D_OP
    if rd32(p, 2) != n:
        info[0] = rd32(p, 2)
        info[1] = n
        return E.F_SIZE
    C = np.int64(p[6])
    elo = np.int64(p[7])
    P = np.int64(p[8])
    emask = (1 << EB) - 1
    if C < 1 or C > MAXCTX:
        info[0] = C
        return E.F_C
    if elo > emask:
        info[0] = elo
        return E.D_ELO
    if P < PBMIN or P > PBMAX:
        info[0] = P
        return E.F_P
    tlen = rd32(p, 9)
    pos = HDR
    if tlen > ln - pos:
        info[0] = tlen
        info[1] = ln - pos
        return E.F_TABLES
    st = np.zeros(4, np.int64)
    st[0] = pos
    st[1] = tlen
    sym = np.zeros(128, np.int64)
    q = np.zeros(128, np.int64)
    freq = np.zeros(128, np.int64)
    res = np.zeros(1, np.int64)
    # per slot of context c: freq | start << 16 | token << 32, at (c << P) + slot
    et = np.zeros(C << P, np.int64)
    for c in range(C):
        err = table_read_list(p, st, B, P, sym, q, res, info)
        if err:
            return err
        m = res[0]
        if sym[m - 1] >= ntok:
            info[0] = sym[m - 1]
            info[1] = ntok
            return E.D_TOKEN
        if normalize_list(q, m, freq, P):
            info[0] = m
            info[1] = P
            return E.F_NORM
        start = np.int64(0)
        cb = np.int64(c) << P
        for i in range(m):
            f = freq[i]
            ent = f | (start << 16) | (sym[i] << 32)
            for k in range(start, start + f):
                et[cb + k] = ent
            start += f
    if (st[2] + 7) // 8 != tlen:
        info[0] = tlen
        info[1] = (st[2] + 7) // 8
        return E.TABLE_LEN
    pos += tlen
    if ln - pos < 4:
        info[0] = pos + 4
        info[1] = ln
        return E.NEED
    xlen = rd32(p, pos)
    pos += 4
    if xlen > ln - pos:
        info[0] = xlen
        info[1] = ln - pos
        return E.F_RAW
    xs = np.zeros(6, np.int64)
    xs[0] = pos
    xs[1] = xlen
    pos += xlen
    x = np.zeros(LANES, np.int64)
    rb = np.zeros(LANES, np.int64)
    err = rdec_init(p, pos, ln - pos, x, rb, info)
    if err:
        return err
    rp = pos + 4 * LANES
    end = ln
    S = np.int64(1) << (W - 1)
    M = (np.int64(1) << W) - 1
    es_shift = W - 1 - EB
    cbase = np.zeros(256, np.int64)
    for e in range(emask + 1):
        c = e - elo
        cbase[e] = (0 if c < 0 else (C - 1 if c >= C else c)) << P
    smask = (np.int64(1) << P) - 1
    seg = seg_len(n)
    r = n - LANES * seg
    # one pass in decoding order: the raw bits are read in the order of the tokens
    for k in range(LANES * seg + r):
        if k < LANES * seg:
            i = k // LANES
            l = k - i * LANES
            j = l * seg + i
        else:
            l = (k - LANES * seg) % LANES
            j = k
        b = ldv(base, j, W)
        xx = x[l]
        slot = xx & smask
        en = et[cbase[(b >> es_shift) & emask] + slot]
        xx = (en & 0xFFFF) * (xx >> P) + slot - ((en >> 16) & 0xFFFF)
        if xx < L:
            if end - rp < 2:
                return E.R_EARLY
            xx = (xx << 16) | np.int64(p[rp]) | (np.int64(p[rp + 1]) << 8)
            rp += 2
        x[l] = xx
        stv(dst, j, W, apply(untoken(en >> 32, p, xs), b, op, S, M))
    if xs[5]:
        return E.D_RAW_OUT
    if xs[2] != xs[1] or xs[3] >= 8:
        info[0] = xs[2]
        info[1] = xlen
        return E.D_RAW_PAD
    if xs[3]:
        # the padding bits of the last byte: zero
        bp = xs[4]
        if (np.int64(p[xs[0] + (bp >> 3)]) >> (bp & 7)) & ((np.int64(1) << xs[3]) - 1):
            info[0] = xs[2]
            info[1] = xlen
            return E.D_RAW_PAD
    return rdec_finish(rp, end, x, info)
