/* Whole-chunk float codec. The top 16 bits h of every value are split into a coded
 * symbol (its top B bits: sign, exponent, leading mantissa bits), rANS-coded with up to
 * ZW_MAXCTX tables selected by the exponent (mode 2: and the sign) of the lane's previous
 * value, and w = 16 - B
 * raw bits packed LSB-first. F32 adds its two low byte planes as ent payloads.
 * Format: spec/CODERS.md, "float payload". */
#include <stdlib.h>
#include <string.h>

#include "log2tab.h"
#include "zw.h"

#define F_STORED 0
#define F_CODED 1
#define F_SIGNED 2 /* coded, contexts also split by the previous value's sign */
#define HDR 6 /* kind, mode, u32 n */
#define BLK ZW_BLK
#define NFINE 16
#define NWIN (NFINE - 2) /* single exponents in the fine window */
/* histogram row stride: 4096 counters plus one cache line, so that the same symbol's
 * counters in different rows fall in different L1 sets (rows 16 KiB apart all alias, and
 * with 32 rows in use that thrashed L1 and halved the encoder's speed) */
#define HROW (4096 + 16)

typedef struct {
    int W;  /* bits per value: 16 or 32 */
    int EB; /* exponent bits */
    int Bmin, Bmax;
} kindinfo;

static int get_kind(int kind, kindinfo *k, zw_err *e)
{
    switch (kind) {
    case 0: *k = (kindinfo){16, 8, 9, 12}; return 0;
    case 1: *k = (kindinfo){16, 5, 6, 12}; return 0;
    case 2: *k = (kindinfo){32, 8, 9, 12}; return 0;
    default: return zw_fail(e, ZW_EARG, "unsupported float kind %d (0=BF16, 1=F16, 2=F32)", kind);
    }
}

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

/* context of the value following a value with exponent ex, thresholds t[0..nt) ascending */
static inline int ctx_of(int ex, const int *t, int nt)
{
    int c = 0, k;
    for (k = 0; k < nt; k++) c += ex >= t[k];
    return c;
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

size_t zw_float_encode(const uint8_t *src, size_t nbytes, int kind, int level, uint8_t *out,
                       zw_err *e)
{
    kindinfo K = {0, 0, 0, 0};
    size_t n, j, seg, tail;
    uint64_t ecnt[256] = {0};
    int lo = 0, opt[8][ZW_MAXCTX], optn[8], nopt = 0, emask, eshift;
    uint8_t flut[256];
    uint32_t *hist = NULL; /* [2 * NFINE][HROW]: previous value's sign, fine bin */
    uint8_t *hcopy = NULL, *tmp = NULL, *qs = NULL;
    const uint8_t *hb;
    zw_esym *es = NULL;
    uint16_t U12[4096];
    int nu12 = 0;
    uint64_t *c12 = NULL, *cB = NULL;
    size_t best_cost = (size_t)-1, result = (size_t)-1;
    int bestB = 0, bestC = 0, bestP = 12, bestT[ZW_MAXCTX], bestSg = 0;
    /* probability precision: 2^12 slots per context; from level 1 also 2^13, from level 6
     * also 2^14 (a little smaller, but larger decode tables, so slower to decode) */
    const int maxP = level >= 6 ? 14 : level >= 1 ? 13 : 12;

    if (zw_float_check(nbytes, kind, e)) return (size_t)-1;
    get_kind(kind, &K, e);
    n = nbytes / (size_t)(K.W / 8);
    if (n < 256) return stored(src, nbytes, n, kind, out);
    seg = zw_seg_len(n);
    tail = n - ZW_LANES * seg;
    eshift = 15 - K.EB;
    emask = (1 << K.EB) - 1;

    if (K.W == 32) {
        hcopy = zw_scratch(ZW_S_FLOAT_HCOPY, 2 * n);
        if (!hcopy) goto oom;
        for (j = 0; j < n; j++) {
            hcopy[2 * j] = src[4 * j + 2];
            hcopy[2 * j + 1] = src[4 * j + 3];
        }
        hb = hcopy;
    } else {
        hb = src;
    }
    hist = zw_scratch(ZW_S_FLOAT_HIST, (size_t)2 * NFINE * HROW * sizeof *hist);
    qs = zw_scratch(ZW_S_FLOAT_QS, (size_t)ZW_MAXCTX * 4096);
    c12 = zw_scratch(ZW_S_FLOAT_C12, (size_t)ZW_MAXCTX * 4096 * sizeof *c12);
    cB = zw_scratch(ZW_S_FLOAT_CB, (size_t)ZW_MAXCTX * 4096 * sizeof *cB);
    if (!hist || !qs || !c12 || !cB) goto oom;
    memset(hist, 0, (size_t)2 * NFINE * HROW * sizeof *hist);
    {
        /* exponent counts of a sample place the fine window; the exact counts come from
         * the histogram below (one sequential pass over the values). The sample is 64
         * runs of 128 values, not 8192 single ones: one value per 128-byte stride cost a
         * cache miss each, 5 % of the encoder's time. */
        size_t runs = n / 8192 ? 64 : 1, rl = n / 8192 ? 128 : n, stride = n / runs, r;
        for (r = 0; r < runs; r++)
            for (j = r * stride; j < r * stride + rl; j++) ecnt[(ldh(hb, j) >> eshift) & emask]++;
    }
    /* fine bins: 0 = exponent < lo, k = exponent lo + k - 1 (k = 1..NWIN), NFINE - 1 =
     * exponent >= lo + NWIN, where [lo, lo + NWIN) is the heaviest window of NWIN
     * exponents. Every
     * candidate context split below is a union of fine bins. */
    {
        uint64_t best, m = 0;
        int k, hi = emask + 1 - NWIN < 0 ? 0 : emask + 1 - NWIN;
        for (k = 0; k < NWIN && k <= emask; k++) m += ecnt[k];
        best = m;
        for (k = 1; k <= hi; k++) {
            m += (k + NWIN - 1 <= emask ? ecnt[k + NWIN - 1] : 0) - ecnt[k - 1];
            if (m > best) best = m, lo = k;
        }
        for (k = 0; k <= emask; k++)
            flut[k] = (uint8_t)(k < lo ? 0 : k - lo + 1 > NFINE - 1 ? NFINE - 1 : k - lo + 1);
    }
    /* histogram of (sign and fine bin of the exponent of the lane's previous value, top 12
     * bits); the lane layout is described at zw_seg_len. Neighbouring weights of
     * convolutions often share their sign: splitting contexts by it saves ~0.5 % of such
     * files, and nothing where the signs are independent. */
    {
        int l, k;
        size_t i, t;
        /* fl12[s]: histogram row offset of the context that follows top-12-bit symbol s;
         * four lanes at a time (independent context chains) */
        uint32_t fl12[4096];
        for (k = 0; k < 4096; k++)
            fl12[k] = ((uint32_t)flut[(k >> (11 - K.EB)) & emask] + (uint32_t)(k >> 11) * NFINE) * HROW;
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
                c0 = fl12[s0];
                c1 = fl12[s1];
                c2 = fl12[s2];
                c3 = fl12[s3];
            }
        }
        for (t = 0; t < tail; t++) {
            size_t jj = ZW_LANES * seg + t;
            uint32_t c = 0, pv;
            if (t >= ZW_LANES || seg) {
                pv = tail_prev(hb, seg, t);
                c = flut[(pv >> eshift) & emask] + (pv >> 15) * NFINE;
            }
            hist[c * HROW + (ldh(hb, jj) >> 4)]++;
        }
    }
    /* the used 12-bit symbols */
    {
        int s, f, k;
        uint32_t any[4096];
        memcpy(any, hist, sizeof any);
        for (f = 1; f < 2 * NFINE; f++)
            for (s = 0; s < 4096; s++) any[s] |= hist[(size_t)f * HROW + s];
        for (s = 0; s < 4096; s++)
            if (any[s]) U12[nu12++] = (uint16_t)s;
        /* exact exponent counts */
        memset(ecnt, 0, sizeof ecnt);
        for (f = 0; f < 2 * NFINE; f++)
            for (k = 0; k < nu12; k++)
                ecnt[(U12[k] >> (11 - K.EB)) & emask] += hist[(size_t)f * HROW + U12[k]];
    }
    /* candidate context splits (threshold lists, strictly increasing, inside the fine
     * window): none; quantiles of the exponent (2 and 4 contexts); the heaviest window
     * of k single exponents plus "below" and "above" (k + 2 contexts) */
    optn[nopt++] = 0;
    if (level >= 1) {
        int qn, k, ks[3] = {2, 6, 14}, nk = level >= 6 ? 3 : 2;
        for (qn = 2; qn <= 4; qn += 2) {
            uint64_t cum = 0;
            int ex = 0, nt = 0;
            for (k = 1; k < qn; k++) {
                uint64_t target = (n * (uint64_t)k + qn - 1) / qn;
                int th;
                while (cum + ecnt[ex] < target) cum += ecnt[ex++];
                th = ex + 1;
                if (th < lo) th = lo;
                if (th > lo + NWIN) th = lo + NWIN;
                if (!nt || th > opt[nopt][nt - 1]) opt[nopt][nt++] = th;
            }
            optn[nopt++] = nt;
        }
        for (k = 0; k < nk; k++) {
            int len = ks[k], a, besta = lo, i;
            uint64_t m, bm;
            for (m = 0, i = 0; i < len; i++) m += ecnt[lo + i];
            bm = m;
            for (a = lo + 1; a + len <= lo + NWIN; a++) {
                m += ecnt[a + len - 1] - ecnt[a - 1];
                if (m > bm) bm = m, besta = a;
            }
            for (i = 0; i <= len; i++) opt[nopt][i] = besta + i;
            optn[nopt++] = len + 1;
        }
    }
    /* evaluate every (split, sign split, B) on the sparse list of used symbols */
    {
        int oi, B, sg;
        uint16_t UB[4096], mapB[4096], syc[4096];
        uint8_t qc[4096];
        uint16_t fc[4096];
        /* candidates: every split without the sign split, then (level >= 1) with it, for
         * the best of those and for the 2-context split; (split, sign) pairs */
        int cand[16][2], ncand = 0, ci, bestOi = 0;
        for (oi = 0; oi < nopt; oi++) cand[ncand][0] = oi, cand[ncand++][1] = 0;
        for (ci = 0; ci < ncand; ci++) {
            int t[ZW_MAXCTX], nt, coarse[2 * NFINE], f, k, C;
            oi = cand[ci][0];
            sg = cand[ci][1];
            nt = optn[oi];
            C = (nt + 1) * (1 + sg);
            if (C > ZW_MAXCTX || (sg && !bestB)) goto next_cand;
            memcpy(t, opt[oi], sizeof t);
            coarse[0] = 0;
            for (f = 1; f < NFINE; f++) coarse[f] = ctx_of(lo + f - 1, t, nt);
            for (f = 0; f < NFINE; f++) coarse[NFINE + f] = coarse[f] + sg * (nt + 1);
            memset(c12, 0, (size_t)C * nu12 * sizeof *c12);
            for (f = 0; f < 2 * NFINE; f++) {
                const uint32_t *hf = hist + (size_t)f * HROW;
                uint64_t *cf = c12 + (size_t)coarse[f] * nu12;
                for (k = 0; k < nu12; k++) cf[k] += hf[U12[k]];
            }
            size_t prevB = (size_t)-1;
            /* the sign split is tried at the best unsplit (B, P) only: it barely moves them,
             * and searching them again would double the encoder's time */
            int b0 = sg ? bestB : K.Bmin, b1 = sg ? bestB : K.Bmax;
            int p0 = sg ? bestP : 12, p1 = sg ? bestP : maxP;
            /* below level 6 the decode tables (C x 2^P entries of 8 bytes) stay within
             * 256 KiB, so they stay in a core's L2: measured, 8 contexts at P = 13 decode
             * ~10 % slower than at P = 12 for 0.01 % of size */
            if (level < 6)
                while (p1 > ZW_PBMIN && ((size_t)C << p1) * 8 > ((size_t)256 << 10)) p1--;
            if (p0 > p1) p0 = p1;
            for (B = b0; B <= b1; B++) {
                int sh = 12 - B, nub = 0, c, ok = 1;
                uint64_t bits0 = (uint64_t)n * (16 - B) * 65536;
                for (k = 0; k < nu12; k++) {
                    uint16_t s = (uint16_t)(U12[k] >> sh);
                    if (!nub || UB[nub - 1] != s) UB[nub++] = s;
                    mapB[k] = (uint16_t)(nub - 1);
                }
                memset(cB, 0, (size_t)C * nub * sizeof *cB);
                for (c = 0; c < C; c++)
                    for (k = 0; k < nu12; k++) cB[(size_t)c * nub + mapB[k]] += c12[(size_t)c * nu12 + k];
                {
                    int P, pfit = ZW_PBMIN, hi = p1;
                    size_t bestPcost = (size_t)-1;
                    /* a context with m used symbols needs m slots: P >= log2(m), or the
                     * decoder rejects the table; that outranks the 256 KiB budget */
                    for (c = 0; c < C; c++) {
                        const uint64_t *cc = cB + (size_t)c * nub;
                        int m = 0;
                        for (k = 0; k < nub; k++) m += cc[k] != 0;
                        while ((1 << pfit) < m) pfit++;
                    }
                    if (hi < pfit) hi = pfit;
                    for (P = p0 > pfit ? p0 : pfit; P <= hi; P++) {
                        uint64_t bits = bits0;
                        for (c = 0; c < C && ok; c++) {
                            const uint64_t *cc = cB + (size_t)c * nub;
                            uint64_t tot = 0;
                            int m = 0;
                            for (k = 0; k < nub; k++) tot += cc[k];
                            if (!tot) {
                                ok = 0;
                                break;
                            }
                            for (k = 0; k < nub; k++)
                                if (cc[k]) {
                                    syc[m] = UB[k];
                                    qc[m++] = (uint8_t)zw_quantize_count(cc[k], tot, P);
                                }
                            if (zw_normalize_list(qc, m, fc, P)) { /* unreachable: P >= pfit */
                                ok = 0;
                                break;
                            }
                            for (k = 0, m = 0; k < nub; k++)
                                if (cc[k])
                                    bits += cc[k] * ((uint64_t)P * 65536 - zw_log2_tab[fc[m++]]);
                            bits += table_bits_list(syc, qc, m, B) * 65536;
                        }
                        if (!ok) break;
                        {
                            size_t cost = (size_t)(bits / 65536 / 8) + (size_t)nt;
                            if (cost < bestPcost) bestPcost = cost;
                            if (cost < best_cost) {
                                int A = 1 << B;
                                best_cost = cost;
                                bestB = B;
                                bestC = C;
                                bestP = P;
                                bestSg = sg;
                                if (!sg) bestOi = oi;
                                memcpy(bestT, t, sizeof t);
                                memset(qs, 0, (size_t)C * A);
                                for (c = 0; c < C; c++) {
                                    const uint64_t *cc = cB + (size_t)c * nub;
                                    uint64_t tot = 0;
                                    for (k = 0; k < nub; k++) tot += cc[k];
                                    for (k = 0; k < nub; k++)
                                        if (cc[k])
                                            qs[(size_t)c * A + UB[k]] =
                                                (uint8_t)zw_quantize_count(cc[k], tot, P);
                                }
                            }
                        }
                    }
                    if (!ok) continue;
                    /* the cost is about convex in B: stop at the first increase */
                    if (bestPcost > prevB) break;
                    prevB = bestPcost;
                }
            }
        next_cand:
            if (ci == nopt - 1 && level >= 1) {
                cand[ncand][0] = bestOi, cand[ncand++][1] = 1;
                if (bestOi != 1 && nopt > 1) cand[ncand][0] = 1, cand[ncand++][1] = 1;
            }
        }
    }
    if (best_cost >= (size_t)n * 2) {
        result = stored(src, nbytes, n, kind, out);
        goto done;
    }
    {
        int A = 1 << bestB, w = 16 - bestB, c, l;
        /* exponent contexts; with the sign split, sign 1 adds sgoff to the context */
        const int nt1 = bestSg ? bestC / 2 : bestC, sgoff = bestSg ? nt1 : 0;
        uint16_t freq[4096];
        uint8_t cl[256];
        size_t pos, tlen, restlen, slen, i, t;
        uint32_t x[ZW_LANES];
        uint8_t *wend, *p;
        zw_bw bw;
        es = zw_scratch(ZW_S_FLOAT_ES, (size_t)bestC * A * sizeof *es);
        tmp = zw_scratch(ZW_S_FLOAT_TMP, 4 * ZW_LANES + 2 * n + 2);
        if (!es || !tmp) goto oom;
        out[0] = (uint8_t)kind;
        out[1] = bestSg ? F_SIGNED : F_CODED;
        zw_wr32(out + 2, (uint32_t)n);
        out[HDR] = (uint8_t)bestB;
        out[HDR + 1] = (uint8_t)bestC;
        out[HDR + 2] = (uint8_t)bestP;
        for (c = 0; c < nt1 - 1; c++) out[HDR + 3 + c] = (uint8_t)bestT[c];
        pos = HDR + 3 + (size_t)(nt1 - 1);
        zw_bw_init(&bw, out + pos + 4, (size_t)-1);
        for (c = 0; c < bestC; c++) {
            zw_normalize(qs + (size_t)c * A, A, freq, bestP);
            zw_build_esym(es + (size_t)c * A, freq, A, bestP);
            zw_table_write(&bw, qs + (size_t)c * A, bestB);
        }
        tlen = zw_bw_finish(&bw);
        zw_wr32(out + pos, (uint32_t)tlen);
        pos += 4 + tlen;
        if (K.W == 32) {
            int pl;
            uint8_t *plane = tmp; /* scratch (n bytes) before the rANS stream uses it */
            for (pl = 1; pl >= 0; pl--) {
                size_t plen;
                for (j = 0; j < n; j++) plane[j] = src[4 * j + pl];
                plen = zw_ent_encode(plane, n, out + pos + 4);
                if (plen == (size_t)-1) goto oom;
                zw_wr32(out + pos, (uint32_t)plen);
                pos += 4 + plen;
            }
        }
        /* raw bits, LSB first */
        restlen = (n * (size_t)w + 7) / 8;
        {
            uint8_t *rp = out + pos;
            uint64_t m = (1u << w) - 1;
            size_t n8 = w <= 8 ? n / 8 * 8 : 0, o = 0; /* 8 fields fit 64 bits */
            /* 8 values = w bytes; the 8-byte store may spill past the w bytes, into space
             * that the next group (or the rANS stream copied later) overwrites */
            if (n8 && zw_have_avx2()) {
                zw_pack_rest_bmi2(hb, n8, w, rp);
                o = n8 / 8 * (size_t)w;
                j = n8;
            }
            else for (j = 0; j < n8; j += 8) {
                uint64_t acc = 0;
                int k;
                for (k = 0; k < 8; k++) acc |= (ldh(hb, j + k) & m) << (k * w);
                memcpy(rp + o, &acc, 8);
                o += (size_t)w;
            }
            {
                uint64_t acc = 0;
                int nacc = 0;
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
            pos += restlen;
        }
        /* rANS, in reverse decoding order; the context of a value comes from the exponent
         * of the previous value of its lane */
        for (c = 0; c <= emask; c++) cl[c] = (uint8_t)ctx_of(c, bestT, nt1 - 1);
        for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
        wend = tmp + 4 * ZW_LANES + 2 * n + 2;
        p = wend;
        for (t = tail; t-- > 0;) {
            size_t jj = ZW_LANES * seg + t;
            uint32_t cx = 0, pv;
            if (t >= ZW_LANES || seg) {
                pv = tail_prev(hb, seg, t);
                cx = cl[(pv >> eshift) & emask] + (pv >> 15) * (uint32_t)sgoff;
            }
            ENC_PUT(x[t % ZW_LANES], &es[cx * A + (ldh(hb, jj) >> w)]);
        }
        if (seg > 1 && zw_have_avx2()) {
            zw_float_enc_steps_avx2(hb, seg, w, A, eshift, emask, bestT, nt1 - 1, sgoff, es, x, &p);
            for (l = ZW_LANES - 1; l >= 0; l--) ENC_PUT(x[l], &es[ldh(hb, (size_t)l * seg) >> w]);
        } else if (seg) {
            /* ctxA[s]: table offset of the context that follows symbol s; hcur[l]: the
             * lane's current value (loaded as the previous value one step earlier) */
            uint32_t ctxA[4096], hcur[ZW_LANES];
            int sh = bestB - 1 - K.EB;
            for (c = 0; c < A; c++)
                ctxA[c] = ((uint32_t)cl[(c >> sh) & emask] + (uint32_t)(c >> (bestB - 1)) * (uint32_t)sgoff) *
                          (uint32_t)A;
            for (l = 0; l < ZW_LANES; l++) hcur[l] = ldh(hb, (size_t)l * seg + seg - 1);
            for (i = seg; i-- > 1;) {
                for (l = ZW_LANES - 1; l >= 0; l--) {
                    uint32_t prev = ldh(hb, (size_t)l * seg + i - 1);
                    ENC_PUT(x[l], &es[ctxA[prev >> w] + (hcur[l] >> w)]);
                    hcur[l] = prev;
                }
            }
            for (l = ZW_LANES - 1; l >= 0; l--) ENC_PUT(x[l], &es[hcur[l] >> w]);
        }
        p -= 4 * ZW_LANES;
        for (l = 0; l < ZW_LANES; l++) zw_wr32(p + 4 * l, x[l]);
        slen = (size_t)(wend - p);
        memcpy(out + pos, p, slen);
        pos += slen;
        if (pos >= HDR + nbytes)
            result = stored(src, nbytes, n, kind, out);
        else
            result = pos;
    }
    goto done;
oom:
    zw_fail(e, ZW_ENOMEM, "out of memory");
    result = (size_t)-1;
done:
    zw_scratch_done(ZW_S_FLOAT_HCOPY, hcopy);
    zw_scratch_done(ZW_S_FLOAT_HIST, hist);
    zw_scratch_done(ZW_S_FLOAT_QS, qs);
    zw_scratch_done(ZW_S_FLOAT_C12, c12);
    zw_scratch_done(ZW_S_FLOAT_CB, cB);
    zw_scratch_done(ZW_S_FLOAT_TMP, tmp);
    zw_scratch_done(ZW_S_FLOAT_ES, es);
    return result;
}

int zw_float_decode(const uint8_t *p, size_t len, int kind, uint8_t *dst, size_t nbytes,
                    zw_err *e)
{
    kindinfo K = {0, 0, 0, 0};
    size_t n, pos, seg, r, i0, restlen;
    int B, C, P, w, c, A, emask, t[ZW_MAXCTX], rc = -1, nt1;
    uint8_t q[4096], nextctx[4096], ecl[256];
    uint16_t freq[4096], sym[4096];
    uint16_t tmp[ZW_LANES * BLK > 512 ? ZW_LANES * BLK : 512];
    zw_dtabs tabs = {NULL};
    int avx2 = zw_have_avx2();
    uint8_t *planes = NULL;
    const uint8_t *rest;
    zw_rdec d;
    zw_br br;
    uint32_t tlen;

    if (get_kind(kind, &K, e)) return -1;
    if (nbytes % (size_t)(K.W / 8))
        return zw_fail(e, ZW_EARG, "destination size %zu is not a multiple of the value size %d",
                       nbytes, K.W / 8);
    n = nbytes / (size_t)(K.W / 8);
    if ((uint64_t)n > ZW_MAXN)
        return zw_fail(e, ZW_ELIMIT, "chunk too large: %zu values, at most %llu", n,
                       (unsigned long long)ZW_MAXN);
    if (len < HDR)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes of header, have %zu", HDR, len);
    if (p[0] != kind)
        return zw_fail(e, ZW_ECORRUPT, "kind mismatch: payload is kind %d, caller asked for %d", p[0], kind);
    if ((size_t)zw_rd32(p + 2) != n)
        return zw_fail(e, ZW_ESIZE, "size mismatch: payload holds %u values, destination has %zu",
                       zw_rd32(p + 2), n);
    if (p[1] == F_STORED) {
        if (len < HDR + nbytes)
            return zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu",
                           HDR + nbytes, len);
        if (len > HDR + nbytes)
            return zw_fail(e, ZW_ETRAIL, "trailing bytes: need %zu bytes, have %zu",
                           HDR + nbytes, len);
        if (nbytes) memcpy(dst, p + HDR, nbytes);
        return 0;
    }
    if (p[1] != F_CODED && p[1] != F_SIGNED) return zw_fail(e, ZW_ECORRUPT, "unknown float payload mode %d", p[1]);
    if (len < HDR + 3) return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes, have %zu", HDR + 3, len);
    B = p[HDR];
    C = p[HDR + 1];
    P = p[HDR + 2];
    if (B < K.Bmin || B > K.Bmax) return zw_fail(e, ZW_ECORRUPT, "invalid symbol width %d", B);
    if (C < 1 || C > ZW_MAXCTX || (p[1] == F_SIGNED && C % 2))
        return zw_fail(e, ZW_ECORRUPT, "invalid context count %d", C);
    if (P < ZW_PBMIN || P > ZW_PBMAX) return zw_fail(e, ZW_ECORRUPT, "invalid probability precision %d", P);
    nt1 = p[1] == F_SIGNED ? C / 2 : C; /* exponent contexts */
    pos = HDR + 3 + (size_t)(nt1 - 1);
    if (len < pos + 4) return zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu", pos + 4, len);
    emask = (1 << K.EB) - 1;
    for (c = 0; c < nt1 - 1; c++) {
        t[c] = p[HDR + 3 + c];
        if (t[c] > emask || (c && t[c] <= t[c - 1]))
            return zw_fail(e, ZW_ECORRUPT, "invalid context thresholds");
    }
    A = 1 << B;
    w = 16 - B;
    tlen = zw_rd32(p + pos);
    pos += 4;
    if ((uint64_t)tlen > len - pos)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: tables need %u bytes, have %zu", tlen, len - pos);
    if (zw_dtabs_alloc(&tabs, C, P, ZW_S_FLOAT_DTAB)) return zw_fail(e, ZW_ENOMEM, "out of memory");
    for (c = 0; c <= emask; c++) ecl[c] = (uint8_t)ctx_of(c, t, nt1 - 1);
    for (c = 0; c < A; c++)
        nextctx[c] = (uint8_t)(ecl[(c >> (B - 1 - K.EB)) & emask] + (nt1 < C ? (c >> (B - 1)) * nt1 : 0));
    br.buf = p + pos;
    br.len = tlen;
    br.bitpos = 0;
    br.overrun = 0;
    for (c = 0; c < C; c++) {
        int m;
        if (zw_table_read_list(&br, B, P, sym, q, &m, e)) goto out;
        if (zw_normalize_list(q, m, freq, P)) { /* unreachable: the reader checked m */
            zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %d symbols at precision %d", m, P);
            goto out;
        }
        zw_build_dtab_list(&tabs, c, sym, freq, m, nextctx);
    }
    if ((br.bitpos + 7) / 8 != tlen) {
        zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %u bytes declared, %zu used", tlen,
                (size_t)((br.bitpos + 7) / 8));
        goto out;
    }
    pos += tlen;
    if (K.W == 32) {
        int pl;
        planes = zw_scratch(ZW_S_FLOAT_PLANES, 2 * n + 1);
        if (!planes) {
            zw_fail(e, ZW_ENOMEM, "out of memory");
            goto out;
        }
        for (pl = 1; pl >= 0; pl--) {
            uint32_t plen;
            if (len - pos < 4) {
                zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu", pos + 4, len);
                goto out;
            }
            plen = zw_rd32(p + pos);
            pos += 4;
            if ((uint64_t)plen > len - pos) {
                zw_fail(e, ZW_ETRUNC, "payload truncated: byte plane needs %u bytes, have %zu", plen,
                        len - pos);
                goto out;
            }
            if (zw_ent_decode(p + pos, plen, planes + (size_t)(1 - pl) * n, n, e)) goto out;
            pos += plen;
        }
    }
    restlen = (n * (size_t)w + 7) / 8;
    if (len - pos < restlen) {
        zw_fail(e, ZW_ETRUNC, "payload truncated: raw bits need %zu bytes, have %zu", restlen, len - pos);
        goto out;
    }
    rest = p + pos;
    pos += restlen;
    /* the rANS stream follows the raw bits and is at least 128 bytes long, so 8-byte loads
     * starting inside the raw bits stay inside the payload */
    if (zw_rdec_init(&d, p + pos, len - pos, e)) goto out;
    seg = zw_seg_len(n);
    r = n - ZW_LANES * seg;
    {
        const uint32_t m = (1u << w) - 1;
        for (i0 = 0; i0 < seg; i0 += BLK) {
            int S = (int)(seg - i0 < BLK ? seg - i0 : BLK), l, s;
            if (zw_rdec_block(&d, &tabs, S, tmp, e)) goto out;
            if (avx2) {
                if (K.W == 16)
                    zw_merge16_avx2(tmp, S, seg, i0, rest, w, dst);
                else
                    zw_merge32_avx2(tmp, S, seg, i0, rest, w, planes, planes + n, dst);
                continue;
            }
            for (l = 0; l < ZW_LANES; l++) {
                size_t j0 = (size_t)l * seg + i0;
                const uint16_t *tl = tmp + l;
                if (K.W == 16) {
                    uint8_t *o = dst + 2 * j0;
                    for (s = 0; s < S; s++) {
                        uint64_t bp = (uint64_t)(j0 + s) * w, v;
                        uint16_t hv;
                        memcpy(&v, rest + (bp >> 3), 8);
                        hv = (uint16_t)((tl[s * ZW_LANES] << w) | ((v >> (bp & 7)) & m));
                        memcpy(o + 2 * s, &hv, 2);
                    }
                } else {
                    uint8_t *o = dst + 4 * j0;
                    const uint8_t *p1 = planes + j0, *p0 = planes + n + j0;
                    for (s = 0; s < S; s++) {
                        uint64_t bp = (uint64_t)(j0 + s) * w, v;
                        uint32_t hv;
                        memcpy(&v, rest + (bp >> 3), 8);
                        hv = ((uint32_t)((tl[s * ZW_LANES] << w) | ((v >> (bp & 7)) & m)) << 16) |
                             ((uint32_t)p1[s] << 8) | p0[s];
                        memcpy(o + 4 * s, &hv, 4);
                    }
                }
            }
        }
        if (r) {
            size_t l;
            if (zw_rdec_tail(&d, &tabs, (int)r, tmp, e)) goto out;
            for (l = 0; l < r; l++) {
                size_t j = ZW_LANES * seg + l;
                uint64_t bp = (uint64_t)j * w, v;
                uint32_t hv;
                memcpy(&v, rest + (bp >> 3), 8);
                hv = (uint32_t)((tmp[l] << w) | ((v >> (bp & 7)) & m));
                if (K.W == 16) {
                    uint16_t h16 = (uint16_t)hv;
                    memcpy(dst + 2 * j, &h16, 2);
                } else {
                    hv = (hv << 16) | ((uint32_t)planes[j] << 8) | planes[n + j];
                    memcpy(dst + 4 * j, &hv, 4);
                }
            }
        }
    }
    rc = zw_rdec_finish(&d, e);
out:
    zw_dtabs_free(&tabs, ZW_S_FLOAT_DTAB);
    zw_scratch_done(ZW_S_FLOAT_PLANES, planes);
    return rc;
}
