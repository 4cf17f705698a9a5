/* Whole-chunk float codec. The top 16 bits h of every value are split into a coded
 * symbol (its top B bits: sign, exponent, leading mantissa bits), rANS-coded with up to
 * ZW_MAXCTX tables selected by the exponent (mode 2: and the sign) of the lane's previous
 * value, and w = 16 - B
 * raw bits packed LSB-first. F32 adds its two low byte planes as ent payloads.
 * Format: spec/CODERS.md, "float payload". */
#include <stdlib.h>
#include <string.h>

#include "log2tab.h"

#include "floatc.h"

size_t zw_float_bound(size_t nbytes) { return 2 * nbytes + 262144; }

int zw_float_check(size_t nbytes, int kind, zw_err *e)
{
    kindinfo K = {0, 0, 0, 0};
    if (get_kind(kind, &K, e)) return -1;
    if (nbytes % (size_t)(K.W / 8))
        return zw_fail(e, ZW_EARG, "source size %zu is not a multiple of the value size %d",
                       nbytes, K.W / 8);
    if ((uint64_t)(nbytes / (size_t)(K.W / 8)) > ZW_MAXN)
        return zw_fail(e, ZW_ELIMIT, "chunk too large: %zu values, at most %llu",
                       nbytes / (size_t)(K.W / 8), (unsigned long long)ZW_MAXN);
    return 0;
}

static size_t stored(const uint8_t *src, size_t nbytes, size_t n, int kind, uint8_t *out)
{
    out[0] = (uint8_t)kind;
    out[1] = F_STORED;
    zw_wr32(out + 2, (uint32_t)n);
    if (nbytes) memcpy(out + HDR, src, nbytes);
    return HDR + nbytes;
}

/* ---------------------------------------------------------------- encoder */

static inline uint32_t ldh(const uint8_t *hb, size_t j)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint16_t v;
    memcpy(&v, hb + 2 * j, 2);
    return v;
#else
    return (uint32_t)hb[2 * j] | ((uint32_t)hb[2 * j + 1] << 8);
#endif
}

/* the previous value in its lane of tail value t (value 32*seg + t, see zw_seg_len):
 * the tail value 32 before it, or the last value of lane t's segment. Callers handle
 * the first 32 tail values of a payload without segments (no previous value). */
static inline uint32_t tail_prev(const uint8_t *hb, size_t seg, size_t t)
{
    return t >= ZW_LANES ? ldh(hb, ZW_LANES * seg + t - ZW_LANES) : ldh(hb, t * seg + seg - 1);
}

static int nbits_(uint32_t v) { return zw_log2_32(v); }

/* bits of one serialized table over the used symbols sy[0..m) (ascending) with codes q */
static uint64_t table_bits_list(const uint16_t *sy, const uint8_t *q, int m, int B)
{
    uint64_t bits = (uint64_t)B + 1;
    int k, prev = -1, pq = 0;
    for (k = 0; k < m; k++) {
        bits += 2 * nbits_((uint32_t)(sy[k] - prev)) + 1;
        if (k == 0)
            bits += 8;
        else {
            int d = (int)q[k] - pq;
            uint32_t z = d >= 0 ? (uint32_t)d * 2 : (uint32_t)(-d) * 2 - 1;
            bits += 2 * nbits_(z + 1) + 1;
        }
        prev = sy[k];
        pq = q[k];
    }
    return bits;
}

/* The encoder's stages, in order: the top halves of the values (F32 only), the fine
 * exponent window, the symbol counts by the context of each lane's previous value, the
 * candidate context splits, the search for the cheapest layout (split, sign split, symbol
 * width B, precision P; every cost exact from the normalized tables), and the emission of
 * the chosen layout. */
typedef struct {
    kindinfo K;
    int level, eshift, emask;
    size_t n, seg, tail;
    const uint8_t *hb; /* the top 16 bits of every value, 2 bytes each */
    uint64_t ecnt[256]; /* exponent counts (a sample first, then exact) */
    int lo;             /* first exponent of the fine window */
    uint8_t fine[256];  /* exponent -> fine bin: 0 below the window, NFINE - 1 above */
    uint32_t *hist; /* [2 * NFINE][HROW]: 12-bit symbol counts by the previous value's
                     * sign and fine bin */
    uint16_t used12[4096]; /* the 12-bit symbols that occur, ascending */
    int nused12;
    int split[8][ZW_MAXCTX]; /* candidate threshold lists, strictly increasing */
    int nthr[8], nsplit;
    uint64_t *ctx12; /* [C][nused12]: counts of one candidate's contexts */
    uint64_t *ctxB;  /* [C][nusedB]: the same at symbol width B */
    uint16_t usedB[4096], toB[4096]; /* symbols at width B; used12 index -> usedB index */
    int nusedB;
} fenc;

typedef struct { /* the cheapest layout so far */
    size_t cost;  /* bytes of coded symbols, raw bits, tables and thresholds */
    int B, C, P, sign, split;
    int thr[ZW_MAXCTX];
    uint8_t *q; /* [C][2^B] weight codes, 0 = unused */
} fchoice;

/* the exponent window: the NWIN consecutive exponents holding most values of a sample.
 * The sample is 64 runs of 128 values, not 8192 single ones: one value per 128-byte
 * stride cost a cache miss each, 5 % of the encoder's time. */
static void place_window(fenc *f)
{
    const size_t n = f->n;
    size_t runs = n / 8192 ? 64 : 1, rl = n / 8192 ? 128 : n, stride = n / runs, r, j;
    uint64_t best, m = 0;
    int k, hi = f->emask + 1 - NWIN < 0 ? 0 : f->emask + 1 - NWIN;
    for (r = 0; r < runs; r++)
        for (j = r * stride; j < r * stride + rl; j++)
            f->ecnt[(ldh(f->hb, j) >> f->eshift) & f->emask]++;
    for (k = 0; k < NWIN && k <= f->emask; k++) m += f->ecnt[k];
    best = m;
    for (k = 1; k <= hi; k++) {
        m += (k + NWIN - 1 <= f->emask ? f->ecnt[k + NWIN - 1] : 0) - f->ecnt[k - 1];
        if (m > best) best = m, f->lo = k;
    }
    for (k = 0; k <= f->emask; k++)
        f->fine[k] = (uint8_t)(k < f->lo ? 0 : k - f->lo + 1 > NFINE - 1 ? NFINE - 1 : k - f->lo + 1);
}

/* hist: counts of (sign and fine bin of the lane's previous value, top 12 bits), in the
 * lane layout of zw_seg_len. Neighbouring weights of convolutions often share their
 * sign: splitting contexts by it saves ~0.5 % of such files, nothing where signs are
 * independent. Every candidate context split is a union of these rows. */
static void count_by_context(fenc *f)
{
    const uint8_t *hb = f->hb;
    const size_t seg = f->seg;
    uint32_t *hist = f->hist;
    /* row[s]: histogram row offset of the context that follows 12-bit symbol s; four
     * lanes at a time (independent context chains) */
    uint32_t row[4096];
    int l, k;
    size_t i, t;
    memset(hist, 0, (size_t)2 * NFINE * HROW * sizeof *hist);
    for (k = 0; k < 4096; k++)
        row[k] = ((uint32_t)f->fine[(k >> (11 - f->K.EB)) & f->emask] + (uint32_t)(k >> 11) * NFINE) * HROW;
    for (l = 0; l < ZW_LANES; l += 4) {
        const uint8_t *q0 = hb + 2 * (size_t)l * seg, *q1 = q0 + 2 * seg, *q2 = q1 + 2 * seg,
                      *q3 = q2 + 2 * seg;
        uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        for (i = 0; i < seg; i++) {
            uint32_t s0 = ldh(q0, i) >> 4, s1 = ldh(q1, i) >> 4, s2 = ldh(q2, i) >> 4,
                     s3 = ldh(q3, i) >> 4;
            hist[c0 + s0]++;
            hist[c1 + s1]++;
            hist[c2 + s2]++;
            hist[c3 + s3]++;
            c0 = row[s0];
            c1 = row[s1];
            c2 = row[s2];
            c3 = row[s3];
        }
    }
    for (t = 0; t < f->tail; t++) {
        size_t j = ZW_LANES * seg + t;
        uint32_t c = 0, pv;
        if (t >= ZW_LANES || seg) {
            pv = tail_prev(hb, seg, t);
            c = f->fine[(pv >> f->eshift) & f->emask] + (pv >> 15) * NFINE;
        }
        hist[c * HROW + (ldh(hb, j) >> 4)]++;
    }
}

/* used12 from the histogram, and the exact exponent counts */
static void list_used(fenc *f)
{
    uint32_t any[4096];
    int s, r, k;
    memcpy(any, f->hist, sizeof any);
    for (r = 1; r < 2 * NFINE; r++)
        for (s = 0; s < 4096; s++) any[s] |= f->hist[(size_t)r * HROW + s];
    f->nused12 = 0;
    for (s = 0; s < 4096; s++)
        if (any[s]) f->used12[f->nused12++] = (uint16_t)s;
    memset(f->ecnt, 0, sizeof f->ecnt);
    for (r = 0; r < 2 * NFINE; r++)
        for (k = 0; k < f->nused12; k++)
            f->ecnt[(f->used12[k] >> (11 - f->K.EB)) & f->emask] += f->hist[(size_t)r * HROW + f->used12[k]];
}

/* What the search tries at each level (zipweights/codec/chain.py picks the row of each
 * of its levels): `nq` quantile splits (of 2, then 4 contexts), `nk` runs of single
 * exponents (2, 6, then 14), the sign split (`sign` 0: never, 1: for the best split, 2:
 * also for the 2-context split), precision up to 2^maxP, and `l2cap`: the decode tables
 * kept within a core's L2. Levels 1-3 are one row, 6-9 another; 4 is a lean search
 * (measured: 1.2-1.4x the speed of level 1 for at most 0.08 % of size) and 5 the wide
 * one with its tables in L2 (measured on CRAFT: decodes as fast as level 1, where 6's
 * larger tables decode ~15 % slower). */
typedef struct {
    int nq, nk, sign, maxP, l2cap;
} fsearch;
static const fsearch SEARCH[10] = {
    {0, 0, 0, 12, 1}, /* 0: one table */
    {2, 2, 2, 13, 1}, {2, 2, 2, 13, 1}, {2, 2, 2, 13, 1},
    {0, 1, 1, 12, 1}, /* 4: lean */
    {2, 3, 2, 14, 1}, /* 5: wide, tables in L2 */
    {2, 3, 2, 14, 0}, {2, 3, 2, 14, 0}, {2, 3, 2, 14, 0}, {2, 3, 2, 14, 0},
};

static const fsearch *search_of(const fenc *f)
{
    return &SEARCH[f->level < 0 ? 0 : f->level > 9 ? 9 : f->level];
}

/* candidate splits inside the fine window: none; the exponent's quantiles (2 and 4
 * contexts); the heaviest run of k single exponents plus "below" and "above" (k + 2
 * contexts; k = 2, 6, 14): as many of each as the level's row says */
static void propose_splits(fenc *f)
{
    const int lo = f->lo;
    int qn, k, ks[3] = {2, 6, 14}, nk = search_of(f)->nk;
    f->nthr[f->nsplit++] = 0;
    for (qn = 2; qn <= 2 * search_of(f)->nq; qn += 2) {
        uint64_t cum = 0;
        int ex = 0, nt = 0;
        int *thr = f->split[f->nsplit];
        for (k = 1; k < qn; k++) {
            uint64_t target = (f->n * (uint64_t)k + qn - 1) / qn;
            int th;
            while (cum + f->ecnt[ex] < target) cum += f->ecnt[ex++];
            th = ex + 1;
            if (th < lo) th = lo;
            if (th > lo + NWIN) th = lo + NWIN;
            if (!nt || th > thr[nt - 1]) thr[nt++] = th;
        }
        f->nthr[f->nsplit++] = nt;
    }
    for (k = 0; k < nk; k++) {
        int len = ks[k], a, besta = lo, i;
        uint64_t m, bm;
        for (m = 0, i = 0; i < len; i++) m += f->ecnt[lo + i];
        bm = m;
        for (a = lo + 1; a + len <= lo + NWIN; a++) {
            m += f->ecnt[a + len - 1] - f->ecnt[a - 1];
            if (m > bm) bm = m, besta = a;
        }
        for (i = 0; i <= len; i++) f->split[f->nsplit][i] = besta + i;
        f->nthr[f->nsplit++] = len + 1;
    }
}

/* ctx12 of the C contexts of threshold list thr[0..nt), split by sign or not */
static void context_counts(fenc *f, const int *thr, int nt, int sign, int C)
{
    int ctx[2 * NFINE], r, k;
    ctx[0] = 0;
    for (r = 1; r < NFINE; r++) ctx[r] = ctx_of(f->lo + r - 1, thr, nt);
    for (r = 0; r < NFINE; r++) ctx[NFINE + r] = ctx[r] + sign * (nt + 1);
    memset(f->ctx12, 0, (size_t)C * f->nused12 * sizeof *f->ctx12);
    for (r = 0; r < 2 * NFINE; r++) {
        const uint32_t *h = f->hist + (size_t)r * HROW;
        uint64_t *cc = f->ctx12 + (size_t)ctx[r] * f->nused12;
        for (k = 0; k < f->nused12; k++) cc[k] += h[f->used12[k]];
    }
}

/* ctxB: ctx12 with the symbols cut to their top B bits; returns the most symbols any
 * context uses */
static int to_width(fenc *f, int B, int C)
{
    const int sh = 12 - B, nu = f->nused12;
    int k, c, most = 0;
    f->nusedB = 0;
    for (k = 0; k < nu; k++) {
        uint16_t s = (uint16_t)(f->used12[k] >> sh);
        if (!f->nusedB || f->usedB[f->nusedB - 1] != s) f->usedB[f->nusedB++] = s;
        f->toB[k] = (uint16_t)(f->nusedB - 1);
    }
    memset(f->ctxB, 0, (size_t)C * f->nusedB * sizeof *f->ctxB);
    for (c = 0; c < C; c++) {
        uint64_t *cb = f->ctxB + (size_t)c * f->nusedB;
        const uint64_t *c12 = f->ctx12 + (size_t)c * nu;
        int m = 0;
        for (k = 0; k < nu; k++) cb[f->toB[k]] += c12[k];
        for (k = 0; k < f->nusedB; k++) m += cb[k] != 0;
        if (m > most) most = m;
    }
    return most;
}

/* exact size in bits (<< 16) of the coded symbols and tables of the C contexts of ctxB at
 * precision P; -1 when a context is empty (the split is degenerate) */
static int64_t coded_bits(const fenc *f, int B, int C, int P)
{
    uint16_t sym[4096], freq[4096];
    uint8_t q[4096];
    uint64_t bits = 0;
    int c, k;
    for (c = 0; c < C; c++) {
        const uint64_t *cc = f->ctxB + (size_t)c * f->nusedB;
        uint64_t tot = 0;
        int m = 0;
        for (k = 0; k < f->nusedB; k++) tot += cc[k];
        if (!tot) return -1;
        for (k = 0; k < f->nusedB; k++)
            if (cc[k]) {
                sym[m] = f->usedB[k];
                q[m++] = (uint8_t)zw_quantize_count(cc[k], tot, P);
            }
        if (zw_normalize_list(q, m, freq, P)) return -1; /* unreachable: P fits m */
        for (k = 0, m = 0; k < f->nusedB; k++)
            if (cc[k]) bits += cc[k] * ((uint64_t)P * 65536 - zw_log2_tab[freq[m++]]);
        bits += table_bits_list(sym, q, m, B) * 65536;
    }
    return (int64_t)bits;
}

/* best takes the layout whose counts are in ctxB */
static void keep(const fenc *f, fchoice *best, size_t cost, int B, int C, int P, int sign,
                 int split, const int *thr)
{
    const int A = 1 << B;
    int c, k;
    best->cost = cost;
    best->B = B;
    best->C = C;
    best->P = P;
    best->sign = sign;
    if (!sign) best->split = split;
    memcpy(best->thr, thr, sizeof best->thr);
    memset(best->q, 0, (size_t)C * A);
    for (c = 0; c < C; c++) {
        const uint64_t *cc = f->ctxB + (size_t)c * f->nusedB;
        uint64_t tot = 0;
        for (k = 0; k < f->nusedB; k++) tot += cc[k];
        for (k = 0; k < f->nusedB; k++)
            if (cc[k]) best->q[(size_t)c * A + f->usedB[k]] = (uint8_t)zw_quantize_count(cc[k], tot, P);
    }
}

/* one candidate (threshold list `split`, sign split or not) at every B and P it may use */
static void try_split(fenc *f, fchoice *best, int split, int sign)
{
    /* probability precision: 2^12 slots per context, up to the level's 2^13 or 2^14 (a
     * little smaller, but larger decode tables, so slower to decode) */
    const int maxP = search_of(f)->maxP;
    const int nt = f->nthr[split], C = (nt + 1) * (1 + sign);
    int thr[ZW_MAXCTX], B, b0, b1, p0, p1;
    size_t prev_cost = (size_t)-1;
    if (C > ZW_MAXCTX || (sign && !best->B)) return;
    memcpy(thr, f->split[split], sizeof thr);
    context_counts(f, thr, nt, sign, C);
    /* the sign split is tried at the best unsplit (B, P) only: it barely moves them, and
     * searching them again would double the encoder's time */
    b0 = sign ? best->B : f->K.Bmin, b1 = sign ? best->B : f->K.Bmax;
    p0 = sign ? best->P : 12, p1 = sign ? best->P : maxP;
    /* with l2cap (below level 6) the decode tables (C x 2^P entries of 8 bytes) stay
     * within 256 KiB, so they stay in a core's L2: measured, 8 contexts at P = 13 decode
     * ~10 % slower than at P = 12 for 0.01 % of size */
    if (search_of(f)->l2cap)
        while (p1 > ZW_PBMIN && ((size_t)C << p1) * 8 > ((size_t)256 << 10)) p1--;
    if (p0 > p1) p0 = p1;
    for (B = b0; B <= b1; B++) {
        const uint64_t raw_bits = (uint64_t)f->n * (16 - B) * 65536;
        size_t cost_at_B = (size_t)-1;
        int P, fit = ZW_PBMIN, most = to_width(f, B, C), degenerate = 0;
        /* a context of m used symbols needs m slots: P >= log2(m), or the decoder
         * rejects its table; that outranks the 256 KiB budget */
        while ((1 << fit) < most) fit++;
        for (P = p0 > fit ? p0 : fit; P <= (p1 > fit ? p1 : fit); P++) {
            int64_t bits = coded_bits(f, B, C, P);
            size_t cost;
            if (bits < 0) {
                degenerate = 1;
                break;
            }
            cost = (size_t)((raw_bits + (uint64_t)bits) / 65536 / 8) + (size_t)nt;
            if (cost < cost_at_B) cost_at_B = cost;
            if (cost < best->cost) keep(f, best, cost, B, C, P, sign, split, thr);
        }
        if (degenerate) continue;
        /* the cost is about convex in B: stop at the first increase */
        if (cost_at_B > prev_cost) break;
        prev_cost = cost_at_B;
    }
}

/* every split without the sign split, then (as the level's row says) with it, for the
 * best of those and for the 2-context split */
static void search(fenc *f, fchoice *best)
{
    int s;
    for (s = 0; s < f->nsplit; s++) try_split(f, best, s, 0);
    if (!search_of(f)->sign) return;
    try_split(f, best, best->split, 1);
    if (search_of(f)->sign > 1 && best->split != 1 && f->nsplit > 1) try_split(f, best, 1, 1);
}

/* the w low bits of every value, LSB first, at rp */
static void pack_raw_bits(const uint8_t *hb, size_t n, int w, uint8_t *rp)
{
    const uint64_t m = (1u << w) - 1;
    size_t n8 = w <= 8 ? n / 8 * 8 : 0, o = 0, j; /* 8 fields fit 64 bits */
    uint64_t acc = 0;
    int nacc = 0;
    /* 8 values = w bytes; the 8-byte store may spill past the w bytes, into space that
     * the next group (or the rANS stream copied later) overwrites */
    if (n8 && zw_have_avx2()) {
        zw_pack_rest_bmi2(hb, n8, w, rp);
        o = n8 / 8 * (size_t)w;
        j = n8;
    } else
        for (j = 0; j < n8; j += 8) {
            uint64_t a = 0;
            int k;
            for (k = 0; k < 8; k++) a |= (ldh(hb, j + k) & m) << (k * w);
            memcpy(rp + o, &a, 8);
            o += (size_t)w;
        }
    for (; j < n; j++) {
        acc |= (ldh(hb, j) & m) << nacc;
        nacc += w;
        while (nacc >= 8) {
            rp[o++] = (uint8_t)acc;
            acc >>= 8;
            nacc -= 8;
        }
    }
    if (nacc) rp[o++] = (uint8_t)acc;
}

/* the rANS stream of the symbols, in reverse decoding order, into the end of tmp (room
 * for 4 * ZW_LANES + 2n + 2 bytes); returns its start. The context of a value comes from
 * the exponent (and sign) of the previous value of its lane. */
static uint8_t *code_symbols(const fenc *f, const fchoice *best, const zw_esym *es, uint8_t *tmp)
{
    const uint8_t *hb = f->hb;
    const size_t seg = f->seg;
    const int A = 1 << best->B, w = 16 - best->B, emask = f->emask;
    const int nt1 = best->sign ? best->C / 2 : best->C, sgoff = best->sign ? nt1 : 0;
    uint8_t cl[256], *p = tmp + 4 * ZW_LANES + 2 * f->n + 2;
    uint32_t x[ZW_LANES];
    size_t i, t;
    int c, l;
    for (c = 0; c <= emask; c++) cl[c] = (uint8_t)ctx_of(c, best->thr, nt1 - 1);
    for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
    for (t = f->tail; t-- > 0;) {
        size_t j = ZW_LANES * seg + t;
        uint32_t cx = 0, pv;
        if (t >= ZW_LANES || seg) {
            pv = tail_prev(hb, seg, t);
            cx = cl[(pv >> f->eshift) & emask] + (pv >> 15) * (uint32_t)sgoff;
        }
        ENC_PUT(x[t % ZW_LANES], &es[cx * A + (ldh(hb, j) >> w)]);
    }
    if (seg > 1 && zw_have_avx2()) {
        zw_float_enc_steps_avx2(hb, seg, w, A, f->eshift, emask, best->thr, nt1 - 1, sgoff, es, x, &p);
        for (l = ZW_LANES - 1; l >= 0; l--) ENC_PUT(x[l], &es[ldh(hb, (size_t)l * seg) >> w]);
    } else if (seg) {
        /* next[s]: table offset of the context that follows symbol s; cur[l]: the lane's
         * current value (loaded as the previous value one step earlier) */
        uint32_t next[4096], cur[ZW_LANES];
        const int sh = best->B - 1 - f->K.EB;
        for (c = 0; c < A; c++)
            next[c] = ((uint32_t)cl[(c >> sh) & emask] + (uint32_t)(c >> (best->B - 1)) * (uint32_t)sgoff) *
                      (uint32_t)A;
        for (l = 0; l < ZW_LANES; l++) cur[l] = ldh(hb, (size_t)l * seg + seg - 1);
        for (i = seg; i-- > 1;) {
            for (l = ZW_LANES - 1; l >= 0; l--) {
                uint32_t prev = ldh(hb, (size_t)l * seg + i - 1);
                ENC_PUT(x[l], &es[next[prev >> w] + (cur[l] >> w)]);
                cur[l] = prev;
            }
        }
        for (l = ZW_LANES - 1; l >= 0; l--) ENC_PUT(x[l], &es[cur[l] >> w]);
    }
    p -= 4 * ZW_LANES;
    for (l = 0; l < ZW_LANES; l++) zw_wr32(p + 4 * l, x[l]);
    return p;
}

/* the payload of the chosen layout; (size_t)-1 when out of memory */
static size_t emit(const fenc *f, const fchoice *best, const uint8_t *src, int kind, uint8_t *out)
{
    const size_t n = f->n;
    const int A = 1 << best->B, w = 16 - best->B;
    const int nt1 = best->sign ? best->C / 2 : best->C;
    zw_esym *es = zw_scratch(ZW_S_FLOAT_ES, (size_t)best->C * A * sizeof *es);
    uint8_t *tmp = zw_scratch(ZW_S_FLOAT_TMP, 4 * ZW_LANES + 2 * n + 2), *p;
    uint16_t freq[4096];
    size_t pos, tlen, slen, j, result = (size_t)-1;
    zw_bw bw;
    int c;
    if (!es || !tmp) goto done;
    out[0] = (uint8_t)kind;
    out[1] = best->sign ? F_SIGNED : F_CODED;
    zw_wr32(out + 2, (uint32_t)n);
    out[HDR] = (uint8_t)best->B;
    out[HDR + 1] = (uint8_t)best->C;
    out[HDR + 2] = (uint8_t)best->P;
    for (c = 0; c < nt1 - 1; c++) out[HDR + 3 + c] = (uint8_t)best->thr[c];
    pos = HDR + 3 + (size_t)(nt1 - 1);
    zw_bw_init(&bw, out + pos + 4, (size_t)-1);
    for (c = 0; c < best->C; c++) {
        zw_normalize(best->q + (size_t)c * A, A, freq, best->P);
        zw_build_esym(es + (size_t)c * A, freq, A, best->P);
        zw_table_write(&bw, best->q + (size_t)c * A, best->B);
    }
    tlen = zw_bw_finish(&bw);
    zw_wr32(out + pos, (uint32_t)tlen);
    pos += 4 + tlen;
    if (f->K.W == 32) {
        int pl;
        uint8_t *plane = tmp; /* scratch (n bytes) before the rANS stream uses it */
        for (pl = 1; pl >= 0; pl--) {
            size_t plen;
            for (j = 0; j < n; j++) plane[j] = src[4 * j + pl];
            plen = zw_ent_encode(plane, n, out + pos + 4);
            if (plen == (size_t)-1) goto done;
            zw_wr32(out + pos, (uint32_t)plen);
            pos += 4 + plen;
        }
    }
    pack_raw_bits(f->hb, n, w, out + pos);
    pos += (n * (size_t)w + 7) / 8;
    p = code_symbols(f, best, es, tmp);
    slen = (size_t)(tmp + 4 * ZW_LANES + 2 * n + 2 - p);
    memcpy(out + pos, p, slen);
    result = pos + slen;
done:
    zw_scratch_done(ZW_S_FLOAT_TMP, tmp);
    zw_scratch_done(ZW_S_FLOAT_ES, es);
    return result;
}

size_t zw_float_encode(const uint8_t *src, size_t nbytes, int kind, int level, uint8_t *out,
                       zw_err *e)
{
    fenc f;
    fchoice best;
    uint8_t *hcopy = NULL;
    size_t j, result = (size_t)-1;

    if (zw_float_check(nbytes, kind, e)) return (size_t)-1;
    memset(&f, 0, sizeof f);
    get_kind(kind, &f.K, e);
    f.level = level;
    f.n = nbytes / (size_t)(f.K.W / 8);
    if (f.n < 256) return stored(src, nbytes, f.n, kind, out);
    f.seg = zw_seg_len(f.n);
    f.tail = f.n - ZW_LANES * f.seg;
    f.eshift = 15 - f.K.EB;
    f.emask = (1 << f.K.EB) - 1;
    memset(&best, 0, sizeof best);
    best.cost = (size_t)-1;
    best.P = 12;

    if (f.K.W == 32) { /* the coded top halves of F32 values, contiguous */
        hcopy = zw_scratch(ZW_S_FLOAT_HCOPY, 2 * f.n);
        if (!hcopy) goto oom;
        for (j = 0; j < f.n; j++) {
            hcopy[2 * j] = src[4 * j + 2];
            hcopy[2 * j + 1] = src[4 * j + 3];
        }
        f.hb = hcopy;
    } else {
        f.hb = src;
    }
    f.hist = zw_scratch(ZW_S_FLOAT_HIST, (size_t)2 * NFINE * HROW * sizeof *f.hist);
    best.q = zw_scratch(ZW_S_FLOAT_QS, (size_t)ZW_MAXCTX * 4096);
    f.ctx12 = zw_scratch(ZW_S_FLOAT_C12, (size_t)ZW_MAXCTX * 4096 * sizeof *f.ctx12);
    f.ctxB = zw_scratch(ZW_S_FLOAT_CB, (size_t)ZW_MAXCTX * 4096 * sizeof *f.ctxB);
    if (!f.hist || !best.q || !f.ctx12 || !f.ctxB) goto oom;

    place_window(&f);
    count_by_context(&f);
    list_used(&f);
    propose_splits(&f);
    search(&f, &best);
    if (best.cost >= f.n * 2) {
        result = stored(src, nbytes, f.n, kind, out);
    } else {
        result = emit(&f, &best, src, kind, out);
        if (result == (size_t)-1) goto oom;
        if (result >= HDR + nbytes) result = stored(src, nbytes, f.n, kind, out);
    }
    goto done;
oom:
    zw_fail(e, ZW_ENOMEM, "out of memory");
    result = (size_t)-1;
done:
    zw_scratch_done(ZW_S_FLOAT_HCOPY, hcopy);
    zw_scratch_done(ZW_S_FLOAT_HIST, f.hist);
    zw_scratch_done(ZW_S_FLOAT_QS, best.q);
    zw_scratch_done(ZW_S_FLOAT_C12, f.ctx12);
    zw_scratch_done(ZW_S_FLOAT_CB, f.ctxB);
    return result;
}
