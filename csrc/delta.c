/* Delta coder: a chunk of floats coded against the same values of a base model.
 *
 * A fine-tune moves most weights by a few units in the last place, and how many units
 * depends on the weight's own magnitude: an update of fixed size is many ULPs for a
 * small weight and none for a large one. So each value's difference from its base
 * value is coded with the table of the base value's exponent; the order-0 entropy of
 * the XOR ignores exactly that, and costs about 1.6x as much on the corpus pairs.
 *
 * Format: spec/CODERS.md, "delta payload". */
#include <stdlib.h>
#include <string.h>

#include "log2tab.h"
#include "zw.h"

#define D_HDR 13   /* kind, op, u32 n, C, elo, P, u32 table bytes */
#define D_DIRECT 16 /* zigzagged differences below this are their own token */
#define BLK ZW_BLK

typedef struct {
    int W;    /* bits per value */
    int EB;   /* exponent bits */
    int B;    /* token alphabet bits */
    int ntok; /* tokens in use: D_DIRECT + 2 per bit length above 4 */
} dkind;

static int dkind_of(int kind, dkind *k, zw_err *e)
{
    switch (kind) {
    case 0: *k = (dkind){16, 8, 6, D_DIRECT + 2 * (15 - 3)}; return 0;
    case 1: *k = (dkind){16, 5, 6, D_DIRECT + 2 * (15 - 3)}; return 0;
    case 2: *k = (dkind){32, 8, 7, D_DIRECT + 2 * (31 - 3)}; return 0;
    default: return zw_fail(e, ZW_EARG, "unsupported delta kind %d (0=BF16, 1=F16, 2=F32)", kind);
    }
}

static inline uint32_t ldv(const uint8_t *p, size_t j, int W)
{
    if (W == 16) {
        uint16_t v;
        memcpy(&v, p + 2 * j, 2);
        return v;
    } else {
        uint32_t v;
        memcpy(&v, p + 4 * j, 4);
        return v;
    }
}

static inline void stv(uint8_t *p, size_t j, int W, uint32_t v)
{
    if (W == 16) {
        uint16_t h = (uint16_t)v;
        memcpy(p + 2 * j, &h, 2);
    } else {
        memcpy(p + 4 * j, &v, 4);
    }
}

/* Bit patterns -> integers in the order of the values they encode (sign-magnitude to
 * offset binary), so that a small change of value is a small difference. A bijection
 * on W-bit patterns: -0.0 and NaNs included. */
static inline uint32_t ord(uint32_t v, uint32_t S, uint32_t M)
{
    /* negative: flip every bit; positive: set the sign bit (branchless: signs are random) */
    return v ^ (S | ((0u - (uint32_t)((v & S) != 0)) & M));
}
static inline uint32_t unord(uint32_t o, uint32_t S, uint32_t M)
{
    return o ^ (S | ((0u - (uint32_t)((o & S) == 0)) & M));
}

/* the coded difference z of target t against base b */
static inline uint32_t diff_of(uint32_t t, uint32_t b, int op, int W, uint32_t S, uint32_t M)
{
    uint32_t d;
    if (op) return t ^ b;
    d = (ord(t, S, M) - ord(b, S, M)) & M;
    return ((d << 1) ^ (0u - (d >> (W - 1)))) & M; /* zigzag: small magnitudes first */
}

static inline uint32_t apply(uint32_t z, uint32_t b, int op, uint32_t S, uint32_t M)
{
    uint32_t d;
    if (op) return z ^ b;
    d = ((z >> 1) ^ (0u - (z & 1))) & M;
    return unord((ord(b, S, M) + d) & M, S, M);
}

/* token of z: z itself below D_DIRECT; above, its bit length and the bit below its top
 * one, with the k - 1 lower bits stored raw */
static inline uint32_t token_of(uint32_t z, int *nextra)
{
    int k;
    if (z < D_DIRECT) {
        *nextra = 0;
        return z;
    }
    k = zw_log2_32(z);
    *nextra = k - 1;
    return D_DIRECT + 2 * (uint32_t)(k - 4) + ((z >> (k - 1)) & 1);
}

/* context table by exponent: below elo -> 0, above elo + C - 1 -> C - 1 */
static void context_map(uint8_t *cmap, int emask, int elo, int C)
{
    int e;
    for (e = 0; e <= emask; e++) {
        int c = e - elo;
        cmap[e] = (uint8_t)(c < 0 ? 0 : c >= C ? C - 1 : c);
    }
}

size_t zw_delta_bound(size_t nbytes) { return 2 * nbytes + 16384; }

int zw_delta_check(size_t nbytes, size_t basebytes, int kind, zw_err *e)
{
    dkind K = {16, 8, 6, 0};
    if (dkind_of(kind, &K, e)) return -1;
    if (nbytes % (size_t)(K.W / 8))
        return zw_fail(e, ZW_EARG, "size %zu is not a multiple of the value size %d", nbytes, K.W / 8);
    if (basebytes != nbytes)
        return zw_fail(e, ZW_EARG, "base holds %zu bytes, the chunk %zu", basebytes, nbytes);
    if ((uint64_t)(nbytes / (size_t)(K.W / 8)) > ZW_MAXN)
        return zw_fail(e, ZW_ELIMIT, "chunk too large: %zu values, at most %llu",
                       nbytes / (size_t)(K.W / 8), (unsigned long long)ZW_MAXN);
    return 0;
}

/* ---------------------------------------------------------------- encoder */

/* The exponent window of the contexts: all exponents the base uses when they span at
 * most ZW_DMAXCTX, else the ZW_DMAXCTX consecutive ones holding the most values (the
 * rest share the end contexts: tiny weights near zero, and rare large ones). */
static void place_contexts(const uint32_t *eh, int emask, int *elo, int *C)
{
    int lo = -1, hi = -1, e, best = 0;
    uint64_t run = 0, top = 0;
    for (e = 0; e <= emask; e++)
        if (eh[e]) {
            if (lo < 0) lo = e;
            hi = e;
        }
    if (lo < 0) {
        *elo = 0;
        *C = 1;
        return;
    }
    if (hi - lo + 1 <= ZW_DMAXCTX) {
        *elo = lo;
        *C = hi - lo + 1;
        return;
    }
    for (e = 0; e <= emask; e++) {
        run += eh[e];
        if (e >= ZW_DMAXCTX) run -= eh[e - ZW_DMAXCTX];
        if (e >= ZW_DMAXCTX - 1 && run > top) top = run, best = e - (ZW_DMAXCTX - 1);
    }
    *elo = best;
    *C = ZW_DMAXCTX;
}

/* zw_normalize for the token alphabets (A <= 128): the same frequencies, without its
 * 4096-symbol work arrays to clear (they cost small chunks more than their coding) */
static void normalize_tokens(const uint8_t *q, int A, uint16_t *freq, int P)
{
    uint8_t ql[128] = {0};
    uint16_t fl[128];
    int idx[128], i, m = 0;
    for (i = 0; i < A; i++) {
        freq[i] = 0;
        if (q[i]) idx[m] = i, ql[m++] = q[i];
    }
    if (zw_normalize_list(ql, m, fl, P)) return; /* unreachable: 1 <= m <= A <= 2^P */
    for (i = 0; i < m; i++) freq[idx[i]] = fl[i];
}

/* the quantized weights q[0..A) of one context's counts h (an unused context still has
 * a table: one symbol) and their frequencies; returns the coded cost of the counts in
 * 1/65536 bits, in integers so that every build picks the same transform */
static uint64_t context_table(const uint32_t *h, int A, int P, uint8_t *q, uint16_t *freq)
{
    uint64_t tot = 0, cost = 0;
    int s;
    for (s = 0; s < A; s++) tot += h[s];
    for (s = 0; s < A; s++) q[s] = 0;
    if (!tot)
        q[0] = 1;
    else
        for (s = 0; s < A; s++) q[s] = h[s] ? (uint8_t)zw_quantize_count(h[s], tot, P) : 0;
    normalize_tokens(q, A, freq, P);
    for (s = 0; s < A; s++)
        if (h[s]) cost += (uint64_t)h[s] * ((uint64_t)P * 65536 - zw_log2_tab[freq[s]]);
    return cost;
}

/* value j's position in decoding order: step i of lane l, or tail value t */
#define FOR_DECODING_ORDER(seg, r, J, BODY)                                              \
    do {                                                                                 \
        size_t i_, t_;                                                                   \
        int l_;                                                                          \
        for (i_ = 0; i_ < (seg); i_++)                                                   \
            for (l_ = 0; l_ < ZW_LANES; l_++) {                                          \
                size_t J = (size_t)l_ * (seg) + i_;                                      \
                BODY                                                                     \
            }                                                                            \
        for (t_ = 0; t_ < (r); t_++) {                                                   \
            size_t J = ZW_LANES * (seg) + t_;                                            \
            BODY                                                                         \
        }                                                                                \
    } while (0)

/* Counting both transforms by base exponent in one pass (the SIMD path) pays for a
 * table of 2 x 256 x A counters to clear; below this many values, an exponent pass and
 * a counting pass by context cost less. Both give the very same counts. */
#define D_BYEXP_MIN 2048

/* the counts of both transforms by context, hist[(op*ZW_DMAXCTX + c)*A + token], and
 * the contexts; hx (2*256*A counters, zeroed) for the SIMD path, else NULL */
static void count_both(const uint8_t *src, const uint8_t *base, size_t n, const dkind *K, uint32_t *hx,
                       uint32_t *hist, uint64_t *extra, uint8_t *cmap, int *elo, int *C)
{
    const int A = 1 << K->B, emask = (1 << K->EB) - 1, es_shift = K->W - 1 - K->EB;
    const uint32_t S = 1u << (K->W - 1), M = K->W == 32 ? 0xffffffffu : 0xffffu;
    uint32_t eh[256] = {0};
    size_t j, n16 = 0;
    int op, e, tk;
    memset(hist, 0, (size_t)2 * ZW_DMAXCTX * A * sizeof *hist);
    if (hx) {
        /* by exponent: an equal value only counts for its exponent (token 0 of both) */
        n16 = n / 16 * 16;
        if (K->W == 16)
            zw_delta_count16_avx2(src, base, n16, es_shift, emask, eh, hx, extra);
        else
            zw_delta_count32_avx2(src, base, n16, eh, hx, extra);
        for (j = n16; j < n; j++) {
            uint32_t t = ldv(src, j, K->W), b = ldv(base, j, K->W), ex = (b >> es_shift) & (uint32_t)emask;
            eh[ex]++;
            if (t != b)
                for (op = 0; op < 2; op++) {
                    int nx;
                    hx[((size_t)op * 256 + ex) * A + token_of(diff_of(t, b, op, K->W, S, M), &nx)]++;
                    extra[op] += (uint64_t)nx;
                }
        }
        place_contexts(eh, emask, elo, C);
        context_map(cmap, emask, *elo, *C);
        for (e = 0; e <= emask; e++) {
            if (!eh[e]) continue;
            for (op = 0; op < 2; op++) {
                uint32_t *h = hist + ((size_t)op * ZW_DMAXCTX + cmap[e]) * A, *x = hx + ((size_t)op * 256 + e) * A;
                uint32_t moved = 0;
                for (tk = 1; tk < A; tk++) h[tk] += x[tk], moved += x[tk];
                h[0] += eh[e] - moved;
            }
        }
        return;
    }
    for (j = 0; j < n; j++) eh[(ldv(base, j, K->W) >> es_shift) & (uint32_t)emask]++;
    place_contexts(eh, emask, elo, C);
    context_map(cmap, emask, *elo, *C);
    for (j = 0; j < n; j++) {
        uint32_t t = ldv(src, j, K->W), b = ldv(base, j, K->W);
        uint32_t cx = cmap[(b >> es_shift) & (uint32_t)emask];
        for (op = 0; op < 2; op++) {
            int nx;
            uint32_t tkn = token_of(diff_of(t, b, op, K->W, S, M), &nx);
            hist[((size_t)op * ZW_DMAXCTX + cx) * A + tkn]++;
            extra[op] += (uint64_t)nx;
        }
    }
}

size_t zw_delta_encode(const uint8_t *src, const uint8_t *base, size_t nbytes, int kind, uint8_t *out,
                       zw_err *e)
{
    dkind K = {16, 8, 6, 0};
    const int P = 11; /* 16 contexts x 2^11 slots x 8 bytes: decode tables within a core's L2 */
    size_t n, seg, r, pos, result = (size_t)-1, xlen, slen;
    uint32_t S, M;
    uint32_t *hist = NULL, *hx = NULL;
    uint8_t *tok = NULL, *tmp = NULL, cmap[256], *p;
    zw_esym *es = NULL;
    /* each context's weight codes and frequencies for both transforms, from the costing
     * (the chosen one's are written as they are) */
    uint8_t q[2][ZW_DMAXCTX][128];
    uint16_t freq[2][ZW_DMAXCTX][128];
    int elo, C, c, op, A, es_shift, emask, simd;
    uint64_t cost[2] = {0, 0};
    uint64_t extra[2] = {0, 0};
    zw_bw bw;
    uint32_t x[ZW_LANES];

    if (zw_delta_check(nbytes, nbytes, kind, e)) return (size_t)-1;
    dkind_of(kind, &K, e);
    n = nbytes / (size_t)(K.W / 8);
    S = 1u << (K.W - 1);
    M = K.W == 32 ? 0xffffffffu : 0xffffu;
    A = 1 << K.B;
    emask = (1 << K.EB) - 1;
    es_shift = K.W - 1 - K.EB;
    seg = zw_seg_len(n);
    r = n - ZW_LANES * seg;
    simd = zw_have_avx2();

    hist = zw_scratch(ZW_S_DELTA_HIST, (size_t)2 * ZW_DMAXCTX * A * sizeof *hist +
                                           (simd && n >= D_BYEXP_MIN ? (size_t)2 * 256 * A * sizeof *hx : 0));
    /* the SIMD path: the step-major table indices (u16), then per block z and the big
     * positions (W = 16), or the indices and z in value order (W = 32) */
    tok = zw_scratch(ZW_S_DELTA_TOK, !simd ? n + 1 : K.W == 16 ? 2 * n + 4 * (size_t)ZW_BLK * ZW_LANES + 256
                                                                : 8 * n + 4 * (size_t)ZW_BLK * ZW_LANES + 512);
    es = zw_scratch(ZW_S_DELTA_ES, (size_t)ZW_DMAXCTX * A * sizeof *es);
    tmp = zw_scratch(ZW_S_DELTA_TMP, 4 * ZW_LANES + 2 * n + 2);
    if (!hist || !tok || !es || !tmp) {
        zw_fail(e, ZW_ENOMEM, "out of memory");
        goto done;
    }
    if (simd && n >= D_BYEXP_MIN) {
        hx = hist + (size_t)2 * ZW_DMAXCTX * A;
        memset(hx, 0, (size_t)2 * 256 * A * sizeof *hx);
    }
    /* both transforms counted in one pass; the one whose tables code smaller is used */
    count_both(src, base, n, &K, hx, hist, extra, cmap, &elo, &C);
    for (op = 0; op < 2; op++) {
        cost[op] = extra[op] << 16;
        for (c = 0; c < C; c++)
            cost[op] += context_table(hist + ((size_t)op * ZW_DMAXCTX + c) * A, A, P, q[op][c], freq[op][c]);
    }
    op = cost[1] < cost[0];

    out[0] = (uint8_t)kind;
    out[1] = (uint8_t)op;
    zw_wr32(out + 2, (uint32_t)n);
    out[6] = (uint8_t)C;
    out[7] = (uint8_t)elo;
    out[8] = (uint8_t)P;
    pos = D_HDR;
    zw_bw_init(&bw, out + pos, (size_t)-1);
    for (c = 0; c < C; c++) {
        zw_build_esym(es + (size_t)c * A, freq[op][c], A, P);
        zw_table_write(&bw, q[op][c], K.B);
    }
    {
        size_t tlen = zw_bw_finish(&bw);
        zw_wr32(out + 9, (uint32_t)tlen);
        pos += tlen;
    }
    /* the raw bits in decoding order, so that the decoder reads them as it goes */
    zw_bw_init(&bw, out + pos + 4, (size_t)-1);
    p = tmp + 4 * ZW_LANES + 2 * n + 2;
    if (simd) {
        /* SIMD: the table indices of the steps in decoding order (and the extra bits),
         * then rANS over them backwards */
        uint16_t *idx = (uint16_t *)(void *)(tok + (-(uintptr_t)tok & 63));
        uint16_t *zb = idx + ((n + 16 + 31) & ~(size_t)31), *big = zb + ZW_BLK * ZW_LANES;
        uint8_t ttok[16 * ZW_LANES]; /* the tail's tokens */
        zw_dctx16 cx;
        size_t i0, t;
        int l, k;
        memset(&cx, 0, sizeof cx);
        cx.P = P, cx.eshift = es_shift, cx.emask = emask, cx.elo = elo, cx.C = C;
        if (K.W == 16)
            for (i0 = 0; i0 < seg; i0 += ZW_BLK) {
                int Sn = (int)(seg - i0 < ZW_BLK ? seg - i0 : ZW_BLK);
                int nb = zw_delta_prep16_avx2(src, base, seg, i0, Sn, &cx, op, idx + i0 * ZW_LANES, zb, big);
                for (k = 0; k < nb; k++) {
                    uint32_t z = zb[big[k]];
                    int nx = zw_log2_32(z) - 1;
                    zw_bw_put(&bw, z & ((1u << nx) - 1), nx);
                }
            }
        else if (seg) {
            uint16_t *lidx = idx + ((n + 16 + 31) & ~(size_t)31);
            uint32_t *z32 = (uint32_t *)(void *)(lidx + ((n + 16 + 31) & ~(size_t)31));
            big = (uint16_t *)(void *)(z32 + n + 16);
            zw_delta_prep32_avx2(src, base, seg, &cx, op, lidx, z32, idx);
            for (i0 = 0; i0 < seg; i0 += ZW_BLK) {
                int Sn = (int)(seg - i0 < ZW_BLK ? seg - i0 : ZW_BLK);
                int nb = zw_delta_bigs_avx2(idx + i0 * ZW_LANES, Sn, A - 1, big);
                for (k = 0; k < nb; k++) {
                    size_t i = i0 + big[k] / ZW_LANES;
                    uint32_t z = z32[(size_t)(big[k] % ZW_LANES) * seg + i];
                    int nx = zw_log2_32(z) - 1;
                    zw_bw_put(&bw, z & ((1u << nx) - 1), nx);
                }
            }
        }
        for (t = 0; t < r; t++) {
            size_t jj = ZW_LANES * seg + t;
            int nx;
            uint32_t z = diff_of(ldv(src, jj, K.W), ldv(base, jj, K.W), op, K.W, S, M);
            ttok[t] = (uint8_t)token_of(z, &nx);
            if (nx) zw_bw_put(&bw, z & ((1u << nx) - 1), nx);
        }
        for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
        for (t = r; t-- > 0;) {
            size_t jj = ZW_LANES * seg + t;
            uint32_t cc = cmap[(ldv(base, jj, K.W) >> es_shift) & (uint32_t)emask];
            ENC_PUT(x[t % ZW_LANES], &es[cc * (uint32_t)A + ttok[t]]);
        }
        if (zw_have_avx512() && seg) {
            uint64_t tab[ZW_DMAXCTX * 128];
            int s_;
            for (c = 0; c < C; c++)
                for (s_ = 0; s_ < A; s_++) {
                    const zw_esym *y = &es[c * A + s_];
                    tab[c * A + s_] = (y->bias | (uint32_t)y->cmpl << 14 | (uint32_t)y->shift << 27) |
                                      (uint64_t)y->rcp << 32;
                }
            zw_delta_enc16_avx512(x, idx, seg, tab, P, &p);
        } else {
            size_t i;
            for (i = seg; i-- > 0;)
                for (l = ZW_LANES - 1; l >= 0; l--) ENC_PUT(x[l], &es[idx[i * ZW_LANES + (size_t)l]]);
        }
    } else {
        FOR_DECODING_ORDER(seg, r, jj, {
            int nx;
            uint32_t z = diff_of(ldv(src, jj, K.W), ldv(base, jj, K.W), op, K.W, S, M);
            tok[jj] = (uint8_t)token_of(z, &nx);
            if (nx) zw_bw_put(&bw, z & ((1u << nx) - 1), nx);
        });
        /* rANS, in reverse decoding order */
        {
            int l;
            size_t i, t;
            for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
            for (t = r; t-- > 0;) {
                size_t jj = ZW_LANES * seg + t;
                uint32_t cc = cmap[(ldv(base, jj, K.W) >> es_shift) & (uint32_t)emask];
                ENC_PUT(x[t % ZW_LANES], &es[cc * (uint32_t)A + tok[jj]]);
            }
            for (i = seg; i-- > 0;)
                for (l = ZW_LANES - 1; l >= 0; l--) {
                    size_t jj = (size_t)l * seg + i;
                    uint32_t cc = cmap[(ldv(base, jj, K.W) >> es_shift) & (uint32_t)emask];
                    ENC_PUT(x[l], &es[cc * (uint32_t)A + tok[jj]]);
                }
        }
    }
    xlen = zw_bw_finish(&bw);
    zw_wr32(out + pos, (uint32_t)xlen);
    pos += 4 + xlen;
    p -= 4 * ZW_LANES;
    {
        int l;
        for (l = 0; l < ZW_LANES; l++) zw_wr32(p + 4 * l, x[l]);
    }
    slen = (size_t)(tmp + 4 * ZW_LANES + 2 * n + 2 - p);
    memcpy(out + pos, p, slen);
    result = pos + slen;
done:
    zw_scratch_done(ZW_S_DELTA_HIST, hist);
    zw_scratch_done(ZW_S_DELTA_TOK, tok);
    zw_scratch_done(ZW_S_DELTA_ES, es);
    zw_scratch_done(ZW_S_DELTA_TMP, tmp);
    return result;
}

/* ---------------------------------------------------------------- decoder */

/* the raw bits: a 64-bit window refilled from the stream; reading past its end is an
 * error found once, at the end (the window then holds zeros) */
typedef struct {
    const uint8_t *p;
    size_t len, pos; /* bytes consumed into the window */
    uint64_t acc;
    int nacc;
    int overrun;
} xreader;

static inline void xr_fill(xreader *xr)
{
    if (xr->pos + 8 <= xr->len) {
        uint64_t w;
        int take = (63 - xr->nacc) >> 3;
        memcpy(&w, xr->p + xr->pos, 8);
        xr->acc |= w << xr->nacc;
        xr->pos += (size_t)take;
        xr->nacc += take * 8;
        if (xr->nacc < 64) xr->acc &= (((uint64_t)1 << xr->nacc) - 1);
    } else {
        while (xr->nacc <= 56 && xr->pos < xr->len) {
            xr->acc |= (uint64_t)xr->p[xr->pos++] << xr->nacc;
            xr->nacc += 8;
        }
    }
}

static inline uint32_t xr_get(xreader *xr, int nb) /* nb <= 30 */
{
    uint32_t v;
    if (xr->nacc < nb) {
        xr_fill(xr);
        if (xr->nacc < nb) {
            xr->overrun = 1;
            xr->nacc = nb; /* reads zeros from here on */
        }
    }
    v = (uint32_t)(xr->acc & ((1u << nb) - 1));
    xr->acc >>= nb;
    xr->nacc -= nb;
    return v;
}

static inline uint32_t untoken(uint32_t tk, xreader *xr)
{
    int k;
    if (tk < D_DIRECT) return tk;
    k = 4 + (int)((tk - D_DIRECT) >> 1);
    return (1u << k) | (((tk - D_DIRECT) & 1) << (k - 1)) | xr_get(xr, k - 1);
}

/* The decode tables of the SIMD path. Token 0 (the value is its base value) has about
 * three quarters of a fine-tune's values; if context c codes it, it owns the slots
 * [0, f0[c]), and a slot there decodes with no table load: x = f0[c] * (x >> P) + slot.
 * Only the other slots have entries, in one table of u32 words for all contexts: slot k
 * of context c is tail[tb[c] + k] (k >= f0[c]), holding s | (k - st) << 7 | f << 19 for
 * symbol s of frequency f and first slot st, so that x = f * (x >> P) + (k - st). That
 * table is usually a fraction of the 2^P slots per context and stays in L1: the load of
 * the entry is on the critical path of every step (a gather from L2 takes about twice
 * as long here). f <= 2^P and k - st < 2^P fit for P <= 12. */
#define D_ET32_PMAX 12

/* context c's entries; returns how many (2^P - f0) */
static uint32_t build_tail(uint32_t *tail, const uint16_t *sym, const uint16_t *freq, int m, int P, int *f0)
{
    uint32_t start = 0, k, *t = tail;
    int i = 0;
    *f0 = 0;
    if (sym[0] == 0) { /* the symbols are in ascending order: token 0 first, at slot 0 */
        *f0 = freq[0];
        start = freq[0];
        i = 1;
    }
    for (; i < m; i++) {
        uint32_t f = freq[i], ent = sym[i] | (f << 19);
        for (k = 0; k < f; k++) *t++ = ent | (k << 7);
        start += f;
    }
    (void)P;
    return (uint32_t)(t - tail);
}

/* one symbol of context C, checking that the stream has its word */
#define DEC32_ONE(L, C, OUT)                                                             \
    do {                                                                                 \
        uint32_t xx_ = d->x[L], sl_ = xx_ & smask, en_;                                  \
        en_ = sl_ < (uint32_t)cx.f0[C] ? (uint32_t)cx.f0[C] << 19 | sl_ << 7              \
                                       : cx.tail[cx.tb[C] + (int32_t)sl_];               \
        xx_ = (en_ >> 19) * (xx_ >> P) + ((en_ >> 7) & 0xfff);                           \
        if (xx_ < ZW_L) {                                                                \
            if (d->end - d->p < 2) { zw_fail(e, ZW_ETRUNC, "payload truncated: rANS stream ends early"); goto out; } \
            xx_ = (xx_ << 16) | d->p[0] | ((uint32_t)d->p[1] << 8);                      \
            d->p += 2;                                                                   \
        }                                                                                \
        d->x[L] = xx_;                                                                   \
        (OUT) = (uint16_t)(en_ & 0x7f);                                                  \
    } while (0)

/* DELTA_PROF: time stamps of the SIMD decoder's stages (bench/kernels-style
 * experiments; never defined in a build) */
#ifdef DELTA_PROF
#include <x86intrin.h>
unsigned long long dprof[8];
#define PT(i) do { unsigned long long t_ = __rdtsc(); dprof[i] += t_ - t0_; t0_ = t_; } while (0)
#else
#define PT(i) do { } while (0)
#endif

#define D_BS (ZW_BLK * ZW_LANES) /* values of a block */
typedef struct {
    /* step-major: the base values (blocks k-1, k, k+1) and z (k-1, k); for W = 32, b and
     * z2 are the high halves (b's hold the exponent, as a 16-bit value's do), b2 and z
     * the low ones */
    uint16_t b[3][D_BS], b2[3][D_BS], z[2][D_BS], z2[2][D_BS];
    uint16_t lin[ZW_LANES][ZW_BLK], lout[ZW_LANES][ZW_BLK];
    uint32_t lin32[ZW_LANES][ZW_BLK], lout32[ZW_LANES][ZW_BLK];
    uint16_t big[D_BS + 32]; /* + 32: the kernels store a whole vector of positions past the count */
} dwork;

/* The SIMD path (delta_avx2.c), by blocks of ZW_BLK steps: the tokens of block k (SIMD
 * while the stream surely holds a word per symbol, then scalar), with the side work of
 * blocks k+1 (base values in) and k-1 (values out) in the same loop; then the extra
 * bits of block k's tokens >= 16, in decoding order. 32-bit values take the same
 * kernels: their high halves hold the exponent where a BF16 value has it. */
static int decode_simd(zw_rdec *d, zw_dctx16 cx, int W, int op, const uint8_t *base, size_t n, xreader *xr,
                       uint8_t *dst, zw_err *e)
{
    const size_t seg = zw_seg_len(n), r = n - ZW_LANES * seg, nblk = (seg + ZW_BLK - 1) / ZW_BLK;
    const int P = cx.P, avx512 = zw_have_avx512(), es_full = W == 32 ? cx.eshift + 16 : cx.eshift;
    const uint32_t smask = (1u << P) - 1, S = 1u << (W - 1), M = W == 32 ? 0xffffffffu : 0xffffu;
    uint8_t cmap[256], *mem = NULL;
    dwork *w = NULL;
    zw_dside sw;
    size_t k, t;
    int rc = -1;
    context_map(cmap, cx.emask, cx.elo, cx.C);
#ifdef DELTA_PROF
    unsigned long long t0_ = __rdtsc();
#endif
    if (nblk) {
        mem = zw_scratch(ZW_S_DELTA_TMP, sizeof *w + 64);
        if (!mem) return zw_fail(e, ZW_ENOMEM, "out of memory");
        w = (dwork *)(mem + (-(uintptr_t)mem & 63)); /* the kernels' aligned loads and stores */
        memset(&sw, 0, sizeof sw);
        sw.base = base, sw.dst = dst, sw.seg = seg, sw.W = W, sw.op = op;
        sw.lin = w->lin, sw.lout = w->lout, sw.lin32 = w->lin32, sw.lout32 = w->lout32;
        sw.in_i0 = 0, sw.in_S = (int)(seg < ZW_BLK ? seg : ZW_BLK), sw.in_b = w->b[0], sw.in_b2 = w->b2[0];
        zw_delta_side_finish_avx2(&sw); /* block 0's base values */
    }
    for (k = 0; k < nblk; k++) {
        const size_t i0 = k * ZW_BLK;
        const int Sn = (int)(seg - i0 < ZW_BLK ? seg - i0 : ZW_BLK);
        uint16_t *bstep = w->b[k % 3], *zstep = w->z[k & 1], *zhi = w->z2[k & 1], *big = w->big;
        int s = 0, nb = 0, j;
        PT(5);
        sw.in_i0 = i0 + ZW_BLK;
        sw.in_S = k + 1 < nblk ? (int)(seg - sw.in_i0 < ZW_BLK ? seg - sw.in_i0 : ZW_BLK) : 0;
        sw.in_b = w->b[(k + 1) % 3], sw.in_b2 = w->b2[(k + 1) % 3];
        sw.out_i0 = i0 - ZW_BLK, sw.out_S = k ? ZW_BLK : 0;
        sw.out_z = w->z[(k + 1) & 1], sw.out_z2 = w->z2[(k + 1) & 1];
        sw.out_b = w->b[(k + 2) % 3], sw.out_b2 = w->b2[(k + 2) % 3];
        sw.in_u = sw.out_u = 0;
        sw.pf_i0 = i0 + 2 * ZW_BLK;
        sw.pf_S = k + 2 < nblk ? (int)(seg - sw.pf_i0 < ZW_BLK ? seg - sw.pf_i0 : ZW_BLK) : 0;
        sw.pw_S = k ? Sn : 0;
        cx.side = &sw;
        /* SIMD for as many steps as the stream surely holds words for (one per symbol,
         * plus the 64-byte over-read); the room grows back as few symbols renormalize,
         * so only the last few steps of the chunk go scalar */
        while (s < Sn && (size_t)(d->end - d->p) >= (size_t)2 * ZW_LANES + 64) {
            size_t room = ((size_t)(d->end - d->p) - 64) / (2 * ZW_LANES);
            int run = (size_t)(Sn - s) < room ? Sn - s : (int)room;
            cx.s0 = s;
            nb += (avx512 ? zw_delta_rans16_avx512 : zw_delta_rans16_avx2)(d, &cx, bstep + s * ZW_LANES, run,
                                                                           zstep + s * ZW_LANES, big + nb);
            s += run;
        }
        for (; s < Sn; s++) { /* the end of the stream */
            int l;
            for (l = 0; l < ZW_LANES; l++) {
                uint16_t *o = &zstep[s * ZW_LANES + l];
                DEC32_ONE(l, cmap[(bstep[s * ZW_LANES + l] >> cx.eshift) & (uint32_t)cx.emask], *o);
                if (*o >= D_DIRECT) big[nb++] = (uint16_t)(s * ZW_LANES + l);
            }
        }
        PT(1);
        zw_delta_side_finish_avx2(&sw);
        PT(3);
        if (W == 16)
            for (j = 0; j < nb; j++) zstep[big[j]] = (uint16_t)untoken(zstep[big[j]], xr);
        else {
            memset(zhi, 0, (size_t)Sn * ZW_LANES * sizeof *zhi);
            for (j = 0; j < nb; j++) {
                uint32_t z = untoken(zstep[big[j]], xr);
                zstep[big[j]] = (uint16_t)z;
                zhi[big[j]] = (uint16_t)(z >> 16);
            }
        }
        PT(2);
    }
    if (nblk) { /* the last block's values */
        sw.in_S = sw.pf_S = sw.pw_S = 0;
        sw.out_i0 = (nblk - 1) * ZW_BLK, sw.out_S = (int)(seg - sw.out_i0);
        sw.out_z = w->z[(nblk - 1) & 1], sw.out_z2 = w->z2[(nblk - 1) & 1];
        sw.out_b = w->b[(nblk - 1) % 3], sw.out_b2 = w->b2[(nblk - 1) % 3];
        sw.in_u = sw.out_u = 0;
        zw_delta_side_finish_avx2(&sw);
        PT(3);
    }
    for (t = 0; t < r; t++) {
        size_t j = ZW_LANES * seg + t;
        uint32_t b = ldv(base, j, W);
        uint16_t tk;
        DEC32_ONE(t % ZW_LANES, cmap[(b >> es_full) & (uint32_t)cx.emask], tk);
        stv(dst, j, W, apply(untoken(tk, xr), b, op, S, M));
    }
    rc = 0;
out:
    if (mem) zw_scratch_done(ZW_S_DELTA_TMP, mem);
    return rc;
}

int zw_delta_decode(const uint8_t *p, size_t len, const uint8_t *base, size_t basebytes, int kind,
                    uint8_t *dst, size_t nbytes, zw_err *e)
{
    dkind K = {16, 8, 6, 0};
    size_t n, pos, seg, r, i, i0;
    uint32_t S, M, tlen, xlen;
    int op, C, elo, P, c, rc = -1, emask, es_shift, l, simd;
    uint32_t cused;
    uint8_t q[128], cmap[256];
    uint16_t freq[ZW_DMAXCTX][128], sym[ZW_DMAXCTX][128], tok[ZW_LANES * BLK > 512 ? ZW_LANES * BLK : 512];
    int msym[ZW_DMAXCTX];
    uint32_t cbase[256], ctx[ZW_LANES * BLK > 512 ? ZW_LANES * BLK : 512];
    zw_dtabs tabs = {NULL, 0};
    uint32_t *et32 = NULL;
    zw_br br;
    xreader xr;
    zw_rdec d;

    if (zw_delta_check(nbytes, basebytes, kind, e)) return -1;
    dkind_of(kind, &K, e);
    n = nbytes / (size_t)(K.W / 8);
    if (len < D_HDR)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes of header, have %zu", D_HDR, len);
    if (p[0] != kind)
        return zw_fail(e, ZW_ECORRUPT, "kind mismatch: payload is kind %d, caller asked for %d", p[0], kind);
    op = p[1];
    if (op > 1) return zw_fail(e, ZW_ECORRUPT, "unknown delta transform %d", op);
    if ((size_t)zw_rd32(p + 2) != n)
        return zw_fail(e, ZW_ESIZE, "size mismatch: payload holds %u values, destination has %zu",
                       zw_rd32(p + 2), n);
    C = p[6];
    elo = p[7];
    P = p[8];
    emask = (1 << K.EB) - 1;
    if (C < 1 || C > ZW_DMAXCTX) return zw_fail(e, ZW_ECORRUPT, "invalid context count %d", C);
    if (elo > emask) return zw_fail(e, ZW_ECORRUPT, "invalid first context exponent %d", elo);
    if (P < ZW_PBMIN || P > ZW_PBMAX) return zw_fail(e, ZW_ECORRUPT, "invalid probability precision %d", P);
    tlen = zw_rd32(p + 9);
    pos = D_HDR;
    if ((uint64_t)tlen > len - pos)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: tables need %u bytes, have %zu", tlen, len - pos);
    br.buf = p + pos;
    br.len = tlen;
    br.bitpos = 0;
    br.overrun = 0;
    for (c = 0; c < C; c++) {
        int m;
        if (zw_table_read_list(&br, K.B, P, sym[c], q, &m, e)) return -1;
        if (sym[c][m - 1] >= K.ntok)
            return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: token %u of %d", sym[c][m - 1], K.ntok);
        if (zw_normalize_list(q, m, freq[c], P)) /* unreachable: the reader checked m */
            return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %d symbols at precision %d", m, P);
        msym[c] = m;
    }
    if ((br.bitpos + 7) / 8 != tlen)
        return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %u bytes declared, %zu used", tlen,
                       (size_t)((br.bitpos + 7) / 8));
    pos += tlen;
    if (len - pos < 4) return zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu", pos + 4, len);
    xlen = zw_rd32(p + pos);
    pos += 4;
    if ((uint64_t)xlen > len - pos)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: raw bits need %u bytes, have %zu", xlen, len - pos);
    xr.p = p + pos;
    xr.len = xlen;
    xr.pos = 0;
    xr.acc = 0;
    xr.nacc = 0;
    xr.overrun = 0;
    pos += xlen;
    if (zw_rdec_init(&d, p + pos, len - pos, e)) return -1;
    S = 1u << (K.W - 1);
    M = K.W == 32 ? 0xffffffffu : 0xffffu;
    es_shift = K.W - 1 - K.EB;
    simd = zw_have_avx2() && P <= D_ET32_PMAX;
    context_map(cmap, emask, elo, C);
    /* a small chunk builds only the tables of the contexts its base values use: 16
     * contexts of 2^P slots can be many times the chunk (the tables are all read and
     * checked above all the same) */
    cused = 0xffffu;
    if ((size_t)4 * n < ((size_t)C << P)) {
        size_t j;
        for (cused = 0, j = 0; j < n; j++) cused |= 1u << cmap[(ldv(base, j, K.W) >> es_shift) & (uint32_t)emask];
    }
    if (simd) {
        zw_dctx16 cx = {0};
        /* the kernels read a 32-bit value's exponent from its high half */
        cx.P = P, cx.eshift = K.W == 32 ? es_shift - 16 : es_shift, cx.emask = emask, cx.elo = elo, cx.C = C;
        uint32_t used = 0;
        et32 = zw_scratch(ZW_S_DELTA_DTAB, ((size_t)C << P) * sizeof *et32);
        if (!et32) return zw_fail(e, ZW_ENOMEM, "out of memory");
        for (c = 0; c < C; c++) {
            uint32_t k = 0;
            cx.f0[c] = 0;
            if ((cused >> c) & 1) k = build_tail(et32 + used, sym[c], freq[c], msym[c], P, &cx.f0[c]);
            cx.tb[c] = (int32_t)used - cx.f0[c];
            used += k;
        }
        for (; c < ZW_DMAXCTX; c++) cx.f0[c] = 0, cx.tb[c] = 0; /* unused: the kernels' register tables */
        cx.tail = et32;
        if (decode_simd(&d, cx, K.W, op, base, n, &xr, dst, e)) goto out;
        goto check;
    }
    if (zw_dtabs_alloc(&tabs, C, P, ZW_S_DELTA_DTAB)) return zw_fail(e, ZW_ENOMEM, "out of memory");
    for (c = 0; c < C; c++)
        if ((cused >> c) & 1) zw_build_dtab_list(&tabs, c, sym[c], freq[c], msym[c], NULL);
    for (c = 0; c <= emask; c++) cbase[c] = (uint32_t)cmap[c] << P;
    seg = zw_seg_len(n);
    r = n - ZW_LANES * seg;
    /* per block of steps: the contexts from the base, the tokens (rANS), the values */
    for (i0 = 0; i0 < seg; i0 += BLK) {
        int Sn = (int)(seg - i0 < BLK ? seg - i0 : BLK), s;
        for (l = 0; l < ZW_LANES; l++) {
            size_t j0 = (size_t)l * seg + i0;
            for (s = 0; s < Sn; s++)
                ctx[s * ZW_LANES + l] = cbase[(ldv(base, j0 + s, K.W) >> es_shift) & (uint32_t)emask];
        }
        if (zw_rdec_block_ctx(&d, &tabs, Sn, ctx, tok, e)) goto out;
        for (s = 0; s < Sn; s++)
            for (l = 0; l < ZW_LANES; l++) {
                size_t j = (size_t)l * seg + i0 + (size_t)s;
                stv(dst, j, K.W, apply(untoken(tok[s * ZW_LANES + l], &xr), ldv(base, j, K.W), op, S, M));
            }
    }
    if (r) {
        for (i = 0; i < r; i++)
            ctx[i] = cbase[(ldv(base, ZW_LANES * seg + i, K.W) >> es_shift) & (uint32_t)emask];
        if (zw_rdec_tail_ctx(&d, &tabs, (int)r, ctx, tok, e)) goto out;
        for (i = 0; i < r; i++) {
            size_t j = ZW_LANES * seg + i;
            stv(dst, j, K.W, apply(untoken(tok[i], &xr), ldv(base, j, K.W), op, S, M));
        }
    }
check:
    if (xr.overrun) {
        zw_fail(e, ZW_ETRUNC, "payload truncated: raw bits run out");
        goto out;
    }
    if (xr.pos != xr.len || xr.nacc >= 8 || (xr.acc & (((uint64_t)1 << xr.nacc) - 1))) {
        /* every raw byte used, and the padding bits of the last one zero */
        zw_fail(e, ZW_ECORRUPT, "raw bits: %zu of %u bytes used or non-zero padding", xr.pos, xlen);
        goto out;
    }
    rc = zw_rdec_finish(&d, e);
out:
    if (et32)
        zw_scratch_done(ZW_S_DELTA_DTAB, et32);
    else
        zw_dtabs_free(&tabs, ZW_S_DELTA_DTAB);
    return rc;
}
