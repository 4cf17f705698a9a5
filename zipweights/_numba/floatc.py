"""The float codec (spec/CODERS.md 3), as csrc/floatc.c codes and checks it: the same
encoder search (so the same bytes), the same decoder checks in the same order."""

from __future__ import annotations

import numpy as np

from . import ent
from . import errs as E
from .rans import (
    BLK,
    L,
    LANES,
    LOG2,
    MAXCTX,
    MAXN,
    PBMAX,
    PBMIN,
    build_dtab_list,
    build_esym,
    bw_finish,
    copy_bytes,
    enc_put,
    jit,
    ld64,
    log2_floor,
    normalize,
    normalize_list,
    quantize_count,
    rd32,
    rdec_block,
    rdec_finish,
    rdec_init,
    rdec_tail,
    seg_len,
    st16,
    st32,
    steps32_raw,
    table_read_list,
    table_write,
    wr32,
)

STORED, CODED, SIGNED = 0, 1, 2
HDR = 6
NFINE = 16
NWIN = NFINE - 2
HROW = 4096 + 16
BIG = np.int64(1) << 62  # C's (size_t)-1 as "no cost yet"

# kind -> (bits per value, exponent bits, Bmin, Bmax); csrc/floatc.c get_kind
KINDS = {0: (16, 8, 9, 12), 1: (16, 5, 6, 12), 2: (32, 8, 9, 12)}

# What the search tries at each level: csrc/floatc.c SEARCH, row for row (nq quantile
# splits, nk runs of single exponents, sign 0/1/2, maxP, l2cap); levels clamp to 0..9
SEARCH = (
    (0, 0, 0, 12, 1),
    (2, 2, 2, 13, 1), (2, 2, 2, 13, 1), (2, 2, 2, 13, 1),
    (0, 1, 1, 12, 1),
    (2, 3, 2, 14, 1),
    (2, 3, 2, 14, 0), (2, 3, 2, 14, 0), (2, 3, 2, 14, 0), (2, 3, 2, 14, 0),
)


def bound(nbytes: int) -> int:
    return 2 * nbytes + 262144


@jit
def ctx_of(ex, t, nt):
    c = 0
    for k in range(nt):
        if ex >= t[k]:
            c += 1
    return c


@jit
def stored(src, nbytes, n, kind, out):
    out[0] = kind
    out[1] = STORED
    wr32(out, 2, n)
    out[HDR:HDR + nbytes] = src[:nbytes]
    return HDR + nbytes


# ---------------------------------------------------------------- encoder


@jit
def tail_prev(hb, seg, t):
    return hb[LANES * seg + t - LANES] if t >= LANES else hb[t * seg + seg - 1]


@jit
def table_bits_list(sy, q, m, B):
    bits = np.int64(B) + 1
    prev = -1
    pq = 0
    for k in range(m):
        bits += 2 * log2_floor(sy[k] - prev) + 1
        if k == 0:
            bits += 8
        else:
            d = np.int64(q[k]) - pq
            z = d * 2 if d >= 0 else (-d) * 2 - 1
            bits += 2 * log2_floor(z + 1) + 1
        prev = sy[k]
        pq = q[k]
    return bits


@jit
def place_window(hb, n, eshift, emask, ecnt, fine):
    """the first exponent of the NWIN-exponent window holding most of a sample"""
    runs = 64 if n // 8192 else 1
    rl = 128 if n // 8192 else n
    stride = n // runs
    for r in range(runs):
        for j in range(r * stride, r * stride + rl):
            ecnt[(np.int64(hb[j]) >> eshift) & emask] += 1
    hi = emask + 1 - NWIN
    if hi < 0:
        hi = 0
    m = np.int64(0)
    k = 0
    while k < NWIN and k <= emask:
        m += ecnt[k]
        k += 1
    best = m
    lo = 0
    for k in range(1, hi + 1):
        m += (ecnt[k + NWIN - 1] if k + NWIN - 1 <= emask else 0) - ecnt[k - 1]
        if m > best:
            best = m
            lo = k
    for k in range(emask + 1):
        if k < lo:
            fine[k] = 0
        else:
            fine[k] = min(k - lo + 1, NFINE - 1)
    return lo


@jit
def count_by_context(hb, seg, tail, EB, eshift, emask, fine, hist):
    row = np.empty(4096, np.int64)
    for k in range(4096):
        row[k] = (np.int64(fine[(k >> (11 - EB)) & emask]) + (k >> 11) * NFINE) * HROW
    for l in range(LANES):
        c = 0
        o = l * seg
        for i in range(seg):
            s = np.int64(hb[o + i]) >> 4
            hist[c + s] += 1
            c = row[s]
    for t in range(tail):
        j = LANES * seg + t
        c = 0
        if t >= LANES or seg:
            pv = np.int64(tail_prev(hb, seg, t))
            c = np.int64(fine[(pv >> eshift) & emask]) + (pv >> 15) * NFINE
        hist[c * HROW + (np.int64(hb[j]) >> 4)] += 1


@jit
def list_used(hist, EB, emask, used12, ecnt):
    nused = 0
    for s in range(4096):
        a = False
        for r in range(2 * NFINE):
            if hist[r * HROW + s]:
                a = True
                break
        if a:
            used12[nused] = s
            nused += 1
    ecnt[:] = 0
    for r in range(2 * NFINE):
        for k in range(nused):
            ecnt[(used12[k] >> (11 - EB)) & emask] += hist[r * HROW + used12[k]]
    return nused


@jit
def propose_splits(n, lo, ecnt, nq, nk, split, nthr):
    ks = (2, 6, 14)
    nsplit = 0
    nthr[nsplit] = 0
    nsplit += 1
    for qn in range(2, 2 * nq + 1, 2):
        cum = np.int64(0)
        ex = 0
        nt = 0
        for k in range(1, qn):
            target = (np.int64(n) * k + qn - 1) // qn
            while cum + ecnt[ex] < target:
                cum += ecnt[ex]
                ex += 1
            th = ex + 1
            if th < lo:
                th = lo
            if th > lo + NWIN:
                th = lo + NWIN
            if not nt or th > split[nsplit, nt - 1]:
                split[nsplit, nt] = th
                nt += 1
        nthr[nsplit] = nt
        nsplit += 1
    for k in range(nk):
        ln = ks[k]
        besta = lo
        m = np.int64(0)
        for i in range(ln):
            m += ecnt[lo + i]
        bm = m
        a = lo + 1
        while a + ln <= lo + NWIN:
            m += ecnt[a + ln - 1] - ecnt[a - 1]
            if m > bm:
                bm = m
                besta = a
            a += 1
        for i in range(ln + 1):
            split[nsplit, i] = besta + i
        nthr[nsplit] = ln + 1
        nsplit += 1
    return nsplit


@jit
def context_counts(hist, lo, used12, nused12, thr, nt, sign, C, ctx12):
    ctx = np.empty(2 * NFINE, np.int64)
    ctx[0] = 0
    for r in range(1, NFINE):
        ctx[r] = ctx_of(lo + r - 1, thr, nt)
    for r in range(NFINE):
        ctx[NFINE + r] = ctx[r] + sign * (nt + 1)
    ctx12[:C * nused12] = 0
    for r in range(2 * NFINE):
        h = r * HROW
        cc = ctx[r] * nused12
        for k in range(nused12):
            ctx12[cc + k] += hist[h + used12[k]]


@jit
def to_width(B, C, used12, nu, ctx12, usedB, toB, ctxB, res):
    """ctxB: ctx12 at symbol width B; res[0] = nusedB. The most symbols a context uses."""
    sh = 12 - B
    nb = 0
    for k in range(nu):
        s = used12[k] >> sh
        if not nb or usedB[nb - 1] != s:
            usedB[nb] = s
            nb += 1
        toB[k] = nb - 1
    ctxB[:C * nb] = 0
    most = 0
    for c in range(C):
        cb = c * nb
        c12 = c * nu
        for k in range(nu):
            ctxB[cb + toB[k]] += ctx12[c12 + k]
        m = 0
        for k in range(nb):
            if ctxB[cb + k]:
                m += 1
        if m > most:
            most = m
    res[0] = nb
    return most


@jit
def coded_bits(B, C, P, usedB, nb, ctxB, sym, q, freq):
    """bits << 16 of the coded symbols and tables; -1 when a context is empty"""
    bits = np.int64(0)
    for c in range(C):
        cc = c * nb
        tot = np.int64(0)
        for k in range(nb):
            tot += ctxB[cc + k]
        if not tot:
            return np.int64(-1)
        m = 0
        for k in range(nb):
            if ctxB[cc + k]:
                sym[m] = usedB[k]
                q[m] = quantize_count(ctxB[cc + k], tot, P)
                m += 1
        if normalize_list(q, m, freq, P):
            return np.int64(-1)
        m = 0
        for k in range(nb):
            if ctxB[cc + k]:
                bits += ctxB[cc + k] * (np.int64(P) * 65536 - LOG2[freq[m]])
                m += 1
        bits += table_bits_list(sym, q, m, B) * 65536
    return bits


# best: [cost, B, C, P, sign, split]; bthr[16] its thresholds; bq[C * 2^B] its codes


@jit
def keep(best, bthr, bq, cost, B, C, P, sign, split, thr, usedB, nb, ctxB):
    A = 1 << B
    best[0] = cost
    best[1] = B
    best[2] = C
    best[3] = P
    best[4] = sign
    if not sign:
        best[5] = split
    bthr[:] = thr
    bq[:C * A] = 0
    for c in range(C):
        cc = c * nb
        tot = np.int64(0)
        for k in range(nb):
            tot += ctxB[cc + k]
        for k in range(nb):
            if ctxB[cc + k]:
                bq[c * A + usedB[k]] = quantize_count(ctxB[cc + k], tot, P)


@jit
def try_split(n, Bmin, Bmax, maxP, l2cap, lo, hist, used12, nused12, split, nthr, si, sign,
              best, bthr, bq, ctx12, ctxB, usedB, toB, sym, q, freq):
    nt = nthr[si]
    C = (nt + 1) * (1 + sign)
    if C > MAXCTX or (sign and not best[1]):
        return
    thr = split[si].copy()
    context_counts(hist, lo, used12, nused12, thr, nt, sign, C, ctx12)
    b0 = best[1] if sign else Bmin
    b1 = best[1] if sign else Bmax
    p0 = best[3] if sign else 12
    p1 = best[3] if sign else maxP
    if l2cap:
        while p1 > PBMIN and (np.int64(C) << p1) * 8 > (256 << 10):
            p1 -= 1
    if p0 > p1:
        p0 = p1
    prev_cost = BIG
    res = np.zeros(1, np.int64)
    for B in range(b0, b1 + 1):
        raw_bits = np.int64(n) * (16 - B) * 65536
        cost_at_B = BIG
        most = to_width(B, C, used12, nused12, ctx12, usedB, toB, ctxB, res)
        nb = res[0]
        fit = PBMIN
        while (1 << fit) < most:
            fit += 1
        degenerate = False
        for P in range(max(p0, fit), max(p1, fit) + 1):
            bits = coded_bits(B, C, P, usedB, nb, ctxB, sym, q, freq)
            if bits < 0:
                degenerate = True
                break
            cost = (raw_bits + bits) // 65536 // 8 + nt
            if cost < cost_at_B:
                cost_at_B = cost
            if cost < best[0]:
                keep(best, bthr, bq, cost, B, C, P, sign, si, thr, usedB, nb, ctxB)
        if degenerate:
            continue
        # the cost is about convex in B: stop at the first increase
        if cost_at_B > prev_cost:
            break
        prev_cost = cost_at_B


@jit
def pack_raw_bits(hb, n, w, out, o):
    m = (np.int64(1) << w) - 1
    acc = np.int64(0)
    nacc = 0
    for j in range(n):
        acc |= (np.int64(hb[j]) & m) << nacc
        nacc += w
        while nacc >= 8:
            out[o] = acc & 0xFF
            o += 1
            acc >>= 8
            nacc -= 8
    if nacc:
        out[o] = acc & 0xFF


@jit
def code_symbols(hb, n, seg, tail, EB, eshift, emask, B, C, sign, bthr, es, tmp):
    """the rANS stream into the end of tmp (4*32 + 2n + 2 bytes); its start"""
    A = 1 << B
    w = 16 - B
    nt1 = C // 2 if sign else C
    sgoff = nt1 if sign else 0
    cl = np.empty(256, np.int64)
    for c in range(emask + 1):
        cl[c] = ctx_of(c, bthr, nt1 - 1)
    x = np.full(LANES, L, np.int64)
    p = 4 * LANES + 2 * n + 2
    for t in range(tail - 1, -1, -1):
        j = LANES * seg + t
        cx = 0
        if t >= LANES or seg:
            pv = np.int64(tail_prev(hb, seg, t))
            cx = cl[(pv >> eshift) & emask] + (pv >> 15) * sgoff
        l = t % LANES
        x[l], p = enc_put(x[l], es, cx * A + (np.int64(hb[j]) >> w), tmp, p)
    if seg:
        nxt = np.empty(A, np.int64)
        sh = B - 1 - EB
        for c in range(A):
            nxt[c] = (cl[(c >> sh) & emask] + (c >> (B - 1)) * sgoff) * A
        cur = np.empty(LANES, np.int64)
        for l in range(LANES):
            cur[l] = hb[l * seg + seg - 1]
        for i in range(seg - 1, 0, -1):
            for l in range(LANES - 1, -1, -1):
                prev = np.int64(hb[l * seg + i - 1])
                x[l], p = enc_put(x[l], es, nxt[prev >> w] + (cur[l] >> w), tmp, p)
                cur[l] = prev
        for l in range(LANES - 1, -1, -1):
            x[l], p = enc_put(x[l], es, cur[l] >> w, tmp, p)
    p -= 4 * LANES
    for l in range(LANES):
        wr32(tmp, p + 4 * l, x[l])
    return p


@jit
def emit(src, hb, n, kind, W, EB, eshift, emask, seg, tail, best, bthr, bq, out):
    B = best[1]
    C = best[2]
    P = best[3]
    sign = best[4]
    A = 1 << B
    w = 16 - B
    nt1 = C // 2 if sign else C
    out[0] = kind
    out[1] = SIGNED if sign else CODED
    wr32(out, 2, n)
    out[HDR] = B
    out[HDR + 1] = C
    out[HDR + 2] = P
    for c in range(nt1 - 1):
        out[HDR + 3 + c] = bthr[c] & 0xFF
    pos = HDR + 3 + nt1 - 1
    es = np.empty((C * A, 5), np.int64)
    freq = np.empty(4096, np.int64)
    st = np.zeros(4, np.int64)
    st[0] = pos + 4
    for c in range(C):
        normalize(bq, c * A, A, freq, P)
        build_esym(es, c * A, freq, A, P)
        table_write(out, st, bq, c * A, B)
    tlen = bw_finish(out, st)
    wr32(out, pos, tlen)
    pos += 4 + tlen
    tmp = np.empty(4 * LANES + 2 * n + 2, np.uint8)
    if W == 32:
        plane = np.empty(n, np.uint8)
        for pl in range(1, -1, -1):
            for j in range(n):
                plane[j] = src[4 * j + pl]
            plen = ent.encode(plane, 0, n, out, pos + 4)
            wr32(out, pos, plen)
            pos += 4 + plen
    pack_raw_bits(hb, n, w, out, pos)
    pos += (n * w + 7) // 8
    p = code_symbols(hb, n, seg, tail, EB, eshift, emask, B, C, sign, bthr, es, tmp)
    slen = 4 * LANES + 2 * n + 2 - p
    out[pos:pos + slen] = tmp[p:p + slen]
    return pos + slen


@jit
def encode(src, nbytes, kind, W, EB, Bmin, Bmax, nq, nk, sgn, maxP, l2cap, out):
    """the payload of src[0..nbytes) into out (room for bound(nbytes)); its length. The
    caller has checked the kind, the size and the limit (zw_float_check)."""
    n = nbytes // (W // 8)
    if n < 256:
        return stored(src, nbytes, n, kind, out)
    seg = seg_len(n)
    tail = n - LANES * seg
    eshift = 15 - EB
    emask = (1 << EB) - 1
    hb = np.empty(n, np.int64)
    if W == 32:
        for j in range(n):
            hb[j] = np.int64(src[4 * j + 2]) | (np.int64(src[4 * j + 3]) << 8)
    else:
        for j in range(n):
            hb[j] = np.int64(src[2 * j]) | (np.int64(src[2 * j + 1]) << 8)
    ecnt = np.zeros(256, np.int64)
    fine = np.zeros(256, np.int64)
    lo = place_window(hb, n, eshift, emask, ecnt, fine)
    hist = np.zeros(2 * NFINE * HROW, np.uint32)
    count_by_context(hb, seg, tail, EB, eshift, emask, fine, hist)
    used12 = np.zeros(4096, np.int64)
    nused12 = list_used(hist, EB, emask, used12, ecnt)
    split = np.zeros((8, MAXCTX), np.int64)
    nthr = np.zeros(8, np.int64)
    nsplit = propose_splits(n, lo, ecnt, nq, nk, split, nthr)
    best = np.zeros(6, np.int64)
    best[0] = BIG
    best[3] = 12
    bthr = np.zeros(MAXCTX, np.int64)
    bq = np.zeros(MAXCTX * 4096, np.int64)
    ctx12 = np.zeros(MAXCTX * 4096, np.int64)
    ctxB = np.zeros(MAXCTX * 4096, np.int64)
    usedB = np.zeros(4096, np.int64)
    toB = np.zeros(4096, np.int64)
    sym = np.zeros(4096, np.int64)
    q = np.zeros(4096, np.int64)
    freq = np.zeros(4096, np.int64)
    for s in range(nsplit):
        try_split(n, Bmin, Bmax, maxP, l2cap, lo, hist, used12, nused12, split, nthr, s, 0,
                  best, bthr, bq, ctx12, ctxB, usedB, toB, sym, q, freq)
    if sgn:
        try_split(n, Bmin, Bmax, maxP, l2cap, lo, hist, used12, nused12, split, nthr, best[5], 1,
                  best, bthr, bq, ctx12, ctxB, usedB, toB, sym, q, freq)
        if sgn > 1 and best[5] != 1 and nsplit > 1:
            try_split(n, Bmin, Bmax, maxP, l2cap, lo, hist, used12, nused12, split, nthr, 1, 1,
                      best, bthr, bq, ctx12, ctxB, usedB, toB, sym, q, freq)
    if best[0] >= n * 2:
        return stored(src, nbytes, n, kind, out)
    ln = emit(src, hb, n, kind, W, EB, eshift, emask, seg, tail, best, bthr, bq, out)
    if ln >= HDR + nbytes:
        return stored(src, nbytes, n, kind, out)
    return ln


# ---------------------------------------------------------------- decoder


@jit
def decode(p, ln, kind, W, EB, Bmin, Bmax, dst, nbytes, info):
    """payload p[0..ln) into dst[0..nbytes); 0 or an error id. The caller has checked
    the kind, the destination's size and the limit."""
    n = nbytes // (W // 8)
    if ln < HDR:
        info[0] = ln
        return E.F_HEADER
    if p[0] != kind:
        info[0] = p[0]
        info[1] = kind
        return E.F_KIND_MISMATCH
    if rd32(p, 2) != n:
        info[0] = rd32(p, 2)
        info[1] = n
        return E.F_SIZE
    if p[1] == STORED:
        if ln < HDR + nbytes:
            info[0] = HDR + nbytes
            info[1] = ln
            return E.NEED
        if ln > HDR + nbytes:
            info[0] = HDR + nbytes
            info[1] = ln
            return E.NEED_TRAIL
        copy_bytes(dst, 0, p, HDR, nbytes)
        return 0
    if p[1] != CODED and p[1] != SIGNED:
        info[0] = p[1]
        return E.F_MODE
    if ln < HDR + 3:
        info[0] = HDR + 3
        info[1] = ln
        return E.NEED
    B = np.int64(p[HDR])
    C = np.int64(p[HDR + 1])
    P = np.int64(p[HDR + 2])
    if B < Bmin or B > Bmax:
        info[0] = B
        return E.F_B
    if C < 1 or C > MAXCTX or (p[1] == SIGNED and C % 2):
        info[0] = C
        return E.F_C
    if P < PBMIN or P > PBMAX:
        info[0] = P
        return E.F_P
    nt1 = C // 2 if p[1] == SIGNED else C
    pos = HDR + 3 + nt1 - 1
    if ln < pos + 4:
        info[0] = pos + 4
        info[1] = ln
        return E.NEED
    emask = (1 << EB) - 1
    t = np.zeros(MAXCTX, np.int64)
    for c in range(nt1 - 1):
        t[c] = p[HDR + 3 + c]
        if t[c] > emask or (c and t[c] <= t[c - 1]):
            return E.F_THR
    A = 1 << B
    w = 16 - B
    tlen = rd32(p, pos)
    pos += 4
    if tlen > ln - pos:
        info[0] = tlen
        info[1] = ln - pos
        return E.F_TABLES
    et = np.empty(C << P, np.int64)
    ecl = np.empty(256, np.int64)
    for c in range(emask + 1):
        ecl[c] = ctx_of(c, t, nt1 - 1)
    nextctx = np.empty(A, np.int64)
    for c in range(A):
        nextctx[c] = ecl[(c >> (B - 1 - EB)) & emask] + ((c >> (B - 1)) * nt1 if nt1 < C else 0)
    br = np.zeros(4, np.int64)
    br[0] = pos
    br[1] = tlen
    sym = np.empty(4096, np.int64)
    q = np.empty(4096, np.int64)
    freq = np.empty(4096, np.int64)
    res = np.zeros(1, np.int64)
    for c in range(C):
        err = table_read_list(p, br, B, P, sym, q, res, info)
        if err:
            return err
        m = res[0]
        if normalize_list(q, m, freq, P):
            info[0] = m
            info[1] = P
            return E.F_NORM
        build_dtab_list(et, c, P, sym, freq, m, nextctx, True)
    if (br[2] + 7) // 8 != tlen:
        info[0] = tlen
        info[1] = (br[2] + 7) // 8
        return E.TABLE_LEN
    pos += tlen
    planes = np.empty(2 * n + 1 if W == 32 else 1, np.uint8)
    if W == 32:
        for pl in range(1, -1, -1):
            if ln - pos < 4:
                info[0] = pos + 4
                info[1] = ln
                return E.NEED
            plen = rd32(p, pos)
            pos += 4
            if plen > ln - pos:
                info[0] = plen
                info[1] = ln - pos
                return E.F_PLANE
            err = ent.decode(p, pos, plen, planes, (1 - pl) * n, n, info)
            if err:
                return err
            pos += plen
    restlen = (n * w + 7) // 8
    if ln - pos < restlen:
        info[0] = restlen
        info[1] = ln - pos
        return E.F_RAW
    rest = pos
    pos += restlen
    x = np.empty(LANES, np.int64)
    base = np.empty(LANES, np.int64)
    # the rANS stream follows the raw bits and is at least 128 bytes long, so the 8-byte
    # reads of the raw bits below stay inside the payload
    err = rdec_init(p, pos, ln - pos, x, base, info)
    if err:
        return err
    pos += 4 * LANES
    seg = seg_len(n)
    r = n - LANES * seg
    msk = (np.int64(1) << w) - 1
    tmp = np.empty(LANES * BLK, np.uint16)
    ro = np.empty(LANES, np.int64)
    for i0 in range(0, seg, BLK):
        # S is a multiple of 16 (seg and BLK are): each lane's raw bits of the block
        # start on a byte, as steps32_raw needs
        S = min(BLK, seg - i0)
        used = np.int64(-1)
        # w <= 8: a lane's 8 raw values of a group fit the one 8-byte load (f16 payloads
        # with B < 8 take the scalar loop)
        if w <= 8 and ln - pos >= 2 * LANES * S:
            for l in range(LANES):
                ro[l] = rest + (((l * seg + i0) * w) >> 3)
            used = steps32_raw(x, base, et, P, p, pos, S, tmp, ro, w)
        if used >= 0:
            pos += used
            for l in range(LANES):
                j0 = l * seg + i0
                if W == 16:
                    for s in range(S):
                        st16(dst, 2 * (j0 + s), np.int64(tmp[s * LANES + l]))
                else:
                    for s in range(S):
                        j = j0 + s
                        hv = np.int64(tmp[s * LANES + l])
                        st32(dst, 4 * j, (hv << 16) | (np.int64(planes[j]) << 8) | np.int64(planes[n + j]))
            continue
        # near the stream's end (or without the IR): the scalar steps, then the raw bits
        err = rdec_block(p, pos, ln, x, base, et, P, S, tmp, res)
        if err:
            return err
        pos = res[0]
        for l in range(LANES):
            j0 = l * seg + i0
            for s in range(S):
                j = j0 + s
                bp = j * w
                hv = (np.int64(tmp[s * LANES + l]) << w) | ((ld64(p, rest + (bp >> 3)) >> (bp & 7)) & msk)
                if W == 16:
                    st16(dst, 2 * j, hv)
                else:
                    st32(dst, 4 * j, (hv << 16) | (np.int64(planes[j]) << 8) | np.int64(planes[n + j]))
    if r:
        err = rdec_tail(p, pos, ln, x, base, et, P, r, tmp, res)
        if err:
            return err
        pos = res[0]
        for k in range(r):
            j = LANES * seg + k
            bp = j * w
            hv = (np.int64(tmp[k]) << w) | ((ld64(p, rest + (bp >> 3)) >> (bp & 7)) & msk)
            if W == 16:
                st16(dst, 2 * j, hv)
            else:
                st32(dst, 4 * j, (hv << 16) | (np.int64(planes[j]) << 8) | np.int64(planes[n + j]))
    return rdec_finish(pos, ln, x, info)
