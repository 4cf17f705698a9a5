"""rANS core of the Numba kernels, line for line csrc/rans.c: quantized weights,
normalization, the table bit streams, decode tables and the 32-lane decoder.

Integers are int64 throughout: Numba turns a mix of uint64 and int64 into float64, and
every quantity here fits 63 bits (states < 2^31, counts <= 2^30). A failing function
returns an error id of errs.py with its numbers in info[]."""

from __future__ import annotations

import numpy as np
from numba import njit

from . import errs as E
from ._log2tab import LOG2TAB

LOG2 = np.array(LOG2TAB, dtype=np.int64)

PB = 12  # ent payloads' precision
PBMIN, PBMAX = 11, 14
L = 1 << 15
LANES = 32
MAXCTX = 16
QMAX = 191
MAXN = 1 << 30
BLK = 128

jit = njit(cache=True, nogil=True)


@jit
def seg_len(n):
    return (n // (16 * LANES)) * 16


@jit
def rd32(p, o):
    return np.int64(p[o]) | (np.int64(p[o + 1]) << 8) | (np.int64(p[o + 2]) << 16) | (np.int64(p[o + 3]) << 24)


@jit
def wr32(p, o, v):
    p[o] = v & 0xFF
    p[o + 1] = (v >> 8) & 0xFF
    p[o + 2] = (v >> 16) & 0xFF
    p[o + 3] = (v >> 24) & 0xFF


@jit
def log2_floor(v):
    b = 0
    while v > 1:
        v >>= 1
        b += 1
    return b


# ---------------------------------------------------------------- quantized weights


@jit
def quantize_count(count, total, pb):
    f16 = (count * (np.int64(16) << pb) + total // 2) // total
    if f16 < (32 << 4):
        q = (f16 + 8) >> 4
        return 1 if q < 1 else q
    s = log2_floor(f16) - 8
    m = (f16 + (np.int64(8) << s)) >> (4 + s)
    if m >= 32:
        m = 16
        s += 1
    q = 32 + (s - 1) * 16 + (m - 16)
    return QMAX if q > QMAX else q


@jit
def qweight(q):
    if q < 32:
        return np.int64(q)
    return np.int64(16 + (q - 32) % 16) << (1 + (q - 32) // 16)


@jit
def normalize_list(q, m, freq, pb):
    """freq[0..m) from the weight codes q[0..m) (all > 0); 0, or -1 when m is not in
    1..2^pb (spec/CODERS.md 1.2, "normalization")."""
    M = np.int64(1) << pb
    if m < 1 or m > M:
        return -1
    W = np.int64(0)
    wmax = np.int64(0)
    imax = 0
    for i in range(m):
        w = qweight(q[i])
        W += w
        if w > wmax:
            wmax = w
            imax = i
    total = np.int64(0)
    for i in range(m):
        f = (qweight(q[i]) * M) // W
        if f < 1:
            f = 1
        freq[i] = f
        total += f
    if total < M:
        freq[imax] = freq[imax] + (M - total)
    elif total > M:
        Ex = total - M
        D = np.int64(0)
        for i in range(m):
            D += np.int64(freq[i]) - 1
        total = 0
        for i in range(m):
            fi = np.int64(freq[i])
            fi = fi - ((fi - 1) * Ex) // D
            freq[i] = fi
            total += fi
        left = total - M
        while left > 0:
            anyd = False
            i = 0
            while i < m and left > 0:
                if freq[i] > 1:
                    freq[i] -= 1
                    left -= 1
                    anyd = True
                i += 1
            if not anyd:
                return -1
    return 0


@jit
def normalize(q, qoff, A, freq, pb):
    """freq[0..A) (0 for unused symbols) from q[qoff .. qoff + A); the number used or -1"""
    ql = np.zeros(4096, np.int64)
    fl = np.zeros(4096, np.int64)
    idx = np.zeros(4096, np.int64)
    m = 0
    for i in range(A):
        freq[i] = 0
        if q[qoff + i]:
            idx[m] = i
            ql[m] = q[qoff + i]
            m += 1
    if normalize_list(ql, m, fl, pb):
        return -1
    for i in range(m):
        freq[idx[i]] = fl[i]
    return m


# ---------------------------------------------------------------- bit I/O, LSB first
# a writer is (buf, st) with st = [base offset, bytes written, accumulator, bits in it];
# a reader is (buf, st) with st = [base offset, length, bit position, overrun]


@jit
def bw_put(buf, st, v, nb):
    if nb <= 0:
        return
    st[2] |= (np.int64(v) & ((np.int64(1) << nb) - 1)) << st[3]
    st[3] += nb
    while st[3] >= 8:
        buf[st[0] + st[1]] = st[2] & 0xFF
        st[1] += 1
        st[2] >>= 8
        st[3] -= 8


@jit
def bw_finish(buf, st):
    if st[3] > 0:
        bw_put(buf, st, 0, 8 - st[3])
    return st[1]


@jit
def br_get(buf, st, nb):
    if nb <= 0:
        return np.int64(0)
    bp = st[2]
    if bp + nb <= st[1] * 8:
        byte = bp >> 3
        sh = bp & 7
        need = (sh + nb + 7) >> 3
        v = np.int64(0)
        o = st[0] + byte
        for i in range(need):
            v |= np.int64(buf[o + i]) << (8 * i)
        st[2] = bp + nb
        return (v >> sh) & ((np.int64(1) << nb) - 1)
    # the bits run past the end: C reads them one by one up to there, then flags it
    st[3] = 1
    st[2] = st[1] * 8
    return np.int64(0)


@jit
def put_gamma(buf, st, v):
    nb = log2_floor(v)
    bw_put(buf, st, 0, nb)
    bw_put(buf, st, 1, 1)
    bw_put(buf, st, v, nb)


@jit
def get_gamma(buf, st):
    nb = 0
    while not br_get(buf, st, 1):
        nb += 1
        if st[3] or nb > 24:
            st[3] = 1
            return np.int64(0)
    return (np.int64(1) << nb) | br_get(buf, st, nb)


@jit
def zigzag(v):
    return v * 2 if v >= 0 else (-v) * 2 - 1


@jit
def unzigzag(z):
    return -((z + 1) >> 1) if (z & 1) else (z >> 1)


@jit
def table_write(buf, st, q, qoff, B):
    A = 1 << B
    nused = 0
    for s in range(A):
        if q[qoff + s] != 0:
            nused += 1
    bw_put(buf, st, nused, B + 1)
    prev = -1
    pq = 0
    for s in range(A):
        qs = np.int64(q[qoff + s])
        if not qs:
            continue
        put_gamma(buf, st, s - prev)
        if prev < 0:
            bw_put(buf, st, qs, 8)
        else:
            put_gamma(buf, st, zigzag(qs - pq) + 1)
        prev = s
        pq = qs


@jit
def table_read_list(buf, st, B, pb, sym, q, res, info):
    """one table into sym[0..m), q[0..m); res[0] = m. Returns 0 or an error id."""
    A = 1 << B
    s = -1
    pq = 0
    nused = br_get(buf, st, B + 1)
    if st[3]:
        return E.T_CUT
    if nused < 1 or nused > A:
        info[0] = nused
        info[1] = A
        return E.T_ALPHABET
    if nused > (1 << pb):
        info[0] = nused
        info[1] = 1 << pb
        return E.T_SLOTS
    for k in range(nused):
        gap = get_gamma(buf, st)
        if st[3]:
            return E.T_TRUNC
        if s + gap >= A:
            return E.T_RANGE
        s += gap
        if k == 0:
            v = br_get(buf, st, 8)
        else:
            v = pq + unzigzag(get_gamma(buf, st) - 1)
        if st[3]:
            return E.T_TRUNC
        if v < 1 or v > QMAX:
            info[0] = v
            return E.T_WEIGHT
        sym[k] = s
        q[k] = v
        pq = v
    res[0] = nused
    return 0


# ---------------------------------------------------------------- tables


@jit
def build_dtab_list(et, c, pb, sym, freq, m, nextctx, has_next):
    """decode table of context c: per slot, freq | start << 16 in the low 32 bits and
    symbol | (next context << pb) << 12 in the high ones (csrc/zw.h, zw_dtabs)"""
    start = np.int64(0)
    base = np.int64(c) << pb
    for i in range(m):
        f = np.int64(freq[i])
        s = np.int64(sym[i])
        nx = np.int64(nextctx[s]) if has_next else np.int64(0)
        ent = (f | (start << 16)) | ((s | (nx << (pb + 12))) << 32)
        for k in range(start, start + f):
            et[base + k] = ent
        start += f


@jit
def build_esym(es, eoff, freq, A, pb):
    """encoder entries es[eoff + s] = (xm1, rcp, bias, cmpl, shift) of symbol s"""
    M = np.int64(1) << pb
    start = np.int64(0)
    for s in range(A):
        f = np.int64(freq[s])
        r = eoff + s
        if not f:
            for k in range(5):
                es[r, k] = 0
            continue
        es[r, 0] = ((L >> pb) << 16) * f - 1
        es[r, 3] = M - f
        if f < 2:
            es[r, 1] = 0xFFFFFFFF
            es[r, 4] = 0
            es[r, 2] = start + M - 1
        else:
            shift = 0
            while f > (np.int64(1) << shift):
                shift += 1
            es[r, 1] = ((np.int64(1) << (shift + 31)) + f - 1) // f
            es[r, 4] = shift - 1
            es[r, 2] = start
        start += f


@jit
def enc_put(x, es, r, out, p):
    """one symbol (encoder entry r) into state x; words go below out[p]. (x, p)"""
    if x > es[r, 0]:
        p -= 2
        out[p] = x & 0xFF
        out[p + 1] = (x >> 8) & 0xFF
        x >>= 16
    q = ((x * es[r, 1]) >> 32) >> es[r, 4]
    return (x + es[r, 2] + q * es[r, 3]) & 0xFFFFFFFF, p


@jit
def rans_encode_bytes(src, n, es, out):
    """the byte coder's stream of src[0..n) into out (room for 130 + 2n); its length"""
    seg = seg_len(n)
    tail = n - LANES * seg
    x = np.full(LANES, L, np.int64)
    tmp = np.empty(4 * LANES + 2 * n + 2, np.uint8)
    wend = 4 * LANES + 2 * n + 2
    p = wend
    for t in range(tail - 1, -1, -1):
        l = t % LANES
        x[l], p = enc_put(x[l], es, np.int64(src[LANES * seg + t]), tmp, p)
    for i in range(seg - 1, -1, -1):
        for l in range(LANES - 1, -1, -1):
            x[l], p = enc_put(x[l], es, np.int64(src[l * seg + i]), tmp, p)
    p -= 4 * LANES
    for l in range(LANES):
        wr32(tmp, p + 4 * l, x[l])
    ln = wend - p
    out[:ln] = tmp[p:wend]
    return ln


# ---------------------------------------------------------------- rANS decode
# a decoder is (x[32], base[32], pos): states, slot bases of the lanes' next contexts, and
# the next word's offset in the payload; `end` is the stream's end


@jit
def rdec_init(p, start, ln, x, base, info):
    if ln < 4 * LANES:
        info[0] = ln
        return E.R_STATES
    for l in range(LANES):
        x[l] = rd32(p, start + 4 * l)
        base[l] = 0
        if x[l] < L or x[l] >= (np.int64(1) << 31):
            return E.R_STATE
    return 0


@jit
def rdec_block(p, pos, end, x, base, et, pb, S, out, res):
    """steps of all lanes into out[s*32 + l]; res[0] = the new pos. 0 or an error id."""
    smask = (np.int64(1) << pb) - 1
    if end - pos >= 2 * LANES * S:
        # enough words for the worst case: no check per word
        for s in range(S):
            o = s * LANES
            for l in range(LANES):
                xx = x[l]
                slot = xx & smask
                en = et[base[l] + slot]
                xx = (en & 0xFFFF) * (xx >> pb) + slot - ((en >> 16) & 0xFFFF)
                sy = en >> 32
                base[l] = sy >> 12
                out[o + l] = sy & 0xFFF
                x[l] = xx
            for l in range(LANES):
                xx = x[l]
                if xx < L:
                    x[l] = (xx << 16) | np.int64(p[pos]) | (np.int64(p[pos + 1]) << 8)
                    pos += 2
    else:
        for s in range(S):
            for l in range(LANES):
                xx = x[l]
                slot = xx & smask
                en = et[base[l] + slot]
                xx = (en & 0xFFFF) * (xx >> pb) + slot - ((en >> 16) & 0xFFFF)
                sy = en >> 32
                base[l] = sy >> 12
                out[s * LANES + l] = sy & 0xFFF
                if xx < L:
                    if end - pos < 2:
                        return E.R_EARLY
                    xx = (xx << 16) | np.int64(p[pos]) | (np.int64(p[pos + 1]) << 8)
                    pos += 2
                x[l] = xx
    res[0] = pos
    return 0


@jit
def rdec_tail(p, pos, end, x, base, et, pb, r, out, res):
    smask = (np.int64(1) << pb) - 1
    for k in range(r):
        l = k % LANES
        xx = x[l]
        slot = xx & smask
        en = et[base[l] + slot]
        xx = (en & 0xFFFF) * (xx >> pb) + slot - ((en >> 16) & 0xFFFF)
        sy = en >> 32
        base[l] = sy >> 12
        out[k] = sy & 0xFFF
        if xx < L:
            if end - pos < 2:
                return E.R_EARLY
            xx = (xx << 16) | np.int64(p[pos]) | (np.int64(p[pos + 1]) << 8)
            pos += 2
        x[l] = xx
    res[0] = pos
    return 0


@jit
def rdec_finish(pos, end, x, info):
    for l in range(LANES):
        if x[l] != L:
            return E.R_FINAL
    if pos != end:
        info[0] = end - pos
        return E.R_TRAIL
    return 0
