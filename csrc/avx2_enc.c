/* SIMD steps of the float encoder (floatc.c): the rANS encoding of whole steps and the
 * packing of raw fields. Per-function target attributes as in avx2.c, whose zw_cpu_init()
 * decides at import whether they run; the output is bit-identical to floatc.c's scalar code. */
#include <stdlib.h>
#include <string.h>

#include "zw.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(ZW_PORTABLE)
#include <immintrin.h>

#define T __attribute__((target("avx2,popcnt,bmi2")))
#define NV (ZW_LANES / 8) /* state vectors */
#include "transpose16.h"

T void zw_float_enc_steps_avx2(const uint8_t *hb, size_t seg, int w, int A, int eshift, int emask,
                               const int *thr, int nt, int sgoff, const zw_esym *es,
                               uint32_t *x, uint8_t **pp)
{
    /* lut[m]: permutation moving the lanes set in m to the top of the vector, in
     * ascending order (so the words of a vector end exactly at the old pointer) */
    uint32_t lut[256][8];
    __m256i xv[NV], thv[ZW_MAXCTX];
    const __m256i lo16 = _mm256_set1_epi32(0xffff), emv = _mm256_set1_epi32(emask),
                  one = _mm256_set1_epi32(1);
    const __m128i wc = _mm_cvtsi32_si128(w), ec = _mm_cvtsi32_si128(eshift);
    const __m256i offs = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm256_set1_epi32((int)(2 * seg)));
    const __m256i shuf16 = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1,
                                            -1, -1, 0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1,
                                            -1, -1, -1, -1);
    uint8_t *p = *pp;
    size_t i, q0;
    int m, k, v;
    __m256i curv[NV];
    _Alignas(32) uint16_t tb[64][ZW_LANES];
    for (m = 0; m < 256; m++) {
        int cnt = _mm_popcnt_u32((unsigned)m), r = 0;
        for (k = 0; k < 8; k++) lut[m][k] = 0;
        for (k = 0; k < 8; k++)
            if ((m >> k) & 1) lut[m][8 - cnt + r++] = (uint32_t)k;
    }
    for (k = 0; k < nt; k++) thv[k] = _mm256_set1_epi32(thr[k] - 1);
    /* with thresholds spanning at most 15 exponents, the context of exponent e is
     * ctxlut[clamp(e - thr[0] + 1, 0, 15)] (one byte shuffle, whatever nt) */
    const int uselut = nt > 1 && thr[nt - 1] - thr[0] <= 14;
    __m256i ctxlut = _mm256_setzero_si256(), e0v = _mm256_set1_epi32(nt ? thr[0] - 1 : 0),
            f15 = _mm256_set1_epi32(15), lo8 = _mm256_set1_epi32(0xff), sgv = _mm256_set1_epi32(sgoff);
    const __m128i bc = _mm_cvtsi32_si128(zw_log2_32((uint32_t)A));
    if (uselut) {
        uint8_t cl[16];
        int f;
        for (f = 0; f < 16; f++) {
            int c = 0;
            for (k = 0; k < nt; k++) c += f >= 1 && thr[0] + f - 1 >= thr[k];
            cl[f] = (uint8_t)c;
        }
        ctxlut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)cl));
    }
    for (v = 0; v < NV; v++) xv[v] = _mm256_loadu_si256((const __m256i *)(x + 8 * v));
    /* blocks of up to 64 "previous" steps q0..q0+rows-1 (q0 a multiple of 64, from the
     * top down), transposed to step-major tb[step][lane] with 16x16 transposes of
     * contiguous per-lane runs: no gathers, and no 32 loads per step at a 4 KiB-multiple
     * stride (which thrash the L1 sets). cur = the lane's value at step p + 1. */
    for (q0 = (seg - 1) / 64 * 64;; q0 -= 64) {
        size_t rows = seg - q0 < 64 ? seg - q0 : 64, p1;
        int g, s0;
        for (s0 = 0; s0 < (int)rows; s0 += 16)
            for (g = 0; g < ZW_LANES / 16; g++) {
                __m256i r[16];
                for (k = 0; k < 16; k++)
                    r[k] = _mm256_loadu_si256(
                        (const __m256i *)(hb + 2 * ((size_t)(16 * g + k) * seg + q0 + (size_t)s0)));
                transpose16(r);
                for (k = 0; k < 16; k++)
                    _mm256_store_si256((__m256i *)(tb[s0 + k] + 16 * g), r[k]);
            }
        p1 = q0 + rows - 1; /* highest previous step of this block */
        if (p1 == seg - 1) { /* top block: its last row is the lanes' last values */
            for (v = 0; v < NV; v++)
                curv[v] = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)(tb[rows - 1] + 8 * v)));
            p1--;
        }
        for (i = p1 + 1; i-- > q0;) for (v = NV - 1; v >= 0; v--) {
            __m256i prev = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)(tb[i - q0] + 8 * v)));
            __m256i cur = curv[v];
            curv[v] = prev;
            __m256i ex = _mm256_and_si256(_mm256_srl_epi32(prev, ec), emv);
            __m256i ctx = _mm256_setzero_si256();
            if (uselut) {
                __m256i f = _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(ex, e0v), ctx), f15);
                ctx = _mm256_and_si256(_mm256_shuffle_epi8(ctxlut, f), lo8);
            } else
                for (k = 0; k < nt; k++)
                    ctx = _mm256_sub_epi32(ctx, _mm256_cmpgt_epi32(ex, thv[k]));
            if (sgoff) /* the sign split: sign 1 adds sgoff */
                ctx = _mm256_add_epi32(ctx, _mm256_mullo_epi32(_mm256_srli_epi32(prev, 15), sgv));
            __m256i idx = _mm256_add_epi32(_mm256_sll_epi32(ctx, bc), _mm256_srl_epi32(cur, wc));
            uint32_t ib[8];
            __m128i r[8];
            _mm256_storeu_si256((__m256i *)ib, idx);
            for (k = 0; k < 8; k++) r[k] = _mm_loadu_si128((const __m128i *)(es + ib[k]));
            /* 4x4 transposes: lanes 0-3 and 4-7 -> (xm1, rcp, bias, cmpl|shift<<16) */
            __m256i r0 = _mm256_inserti128_si256(_mm256_castsi128_si256(r[0]), r[4], 1);
            __m256i r1 = _mm256_inserti128_si256(_mm256_castsi128_si256(r[1]), r[5], 1);
            __m256i r2 = _mm256_inserti128_si256(_mm256_castsi128_si256(r[2]), r[6], 1);
            __m256i r3 = _mm256_inserti128_si256(_mm256_castsi128_si256(r[3]), r[7], 1);
            __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpacklo_epi32(r2, r3);
            __m256i t2 = _mm256_unpackhi_epi32(r0, r1), t3 = _mm256_unpackhi_epi32(r2, r3);
            __m256i xm1 = _mm256_unpacklo_epi64(t0, t1), rcp = _mm256_unpackhi_epi64(t0, t1);
            __m256i bias = _mm256_unpacklo_epi64(t2, t3), cs = _mm256_unpackhi_epi64(t2, t3);
            __m256i xx = xv[v];
            __m256i need = _mm256_cmpgt_epi32(xx, xm1);
            int mk = _mm256_movemask_ps(_mm256_castsi256_ps(need)), cnt = _mm_popcnt_u32((unsigned)mk);
            __m256i words = _mm256_permutevar8x32_epi32(
                xx, _mm256_loadu_si256((const __m256i *)lut[mk]));
            words = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(words, shuf16), 0x08);
            /* the top 2*cnt bytes of these 16 are the words; the rest lands below p, on
             * space that later words overwrite */
            _mm_storeu_si128((__m128i *)(p - 16), _mm256_castsi256_si128(words));
            p -= 2 * cnt;
            xx = _mm256_blendv_epi8(xx, _mm256_srli_epi32(xx, 16), need);
            {
                __m256i pe = _mm256_mul_epu32(xx, rcp);
                __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(xx, 32), _mm256_srli_epi64(rcp, 32));
                __m256i q = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
                q = _mm256_srlv_epi32(q, _mm256_srli_epi32(cs, 16));
                xx = _mm256_add_epi32(_mm256_add_epi32(xx, bias),
                                      _mm256_mullo_epi32(q, _mm256_and_si256(cs, lo16)));
            }
            xv[v] = xx;
        }
        if (!q0) break;
    }
    (void)one;
    (void)offs;
    for (v = 0; v < NV; v++) _mm256_storeu_si256((__m256i *)(x + 8 * v), xv[v]);
    *pp = p;
}

/* 4 w-bit fields in the low bits of 16-bit lanes -> 4w contiguous bits (PEXT's result):
 * fold pairs of lanes, then pairs of pairs; w <= 8 keeps every stray bit above the masks */
static inline uint64_t fold4(uint64_t x, int w)
{
    x = (x | (x >> (16 - w))) & (0x0000000100000001ull * ((1ull << (2 * w)) - 1));
    return (x | (x >> (32 - 2 * w))) & ((1ull << (4 * w)) - 1);
}

/* raw fields of n8 (a multiple of 8) 16-bit values, w <= 8 bits each: 8 values -> w
 * bytes; each 8-byte store may spill past its w bytes into space written later */
T void zw_pack_rest_bmi2(const uint8_t *hb, size_t n8, int w, uint8_t *rp)
{
    const uint64_t m = 0x0001000100010001ull * ((1u << w) - 1);
    size_t j;
    if (zw_fast_pext())
        for (j = 0; j < n8; j += 8) {
            uint64_t a, b;
            memcpy(&a, hb + 2 * j, 8);
            memcpy(&b, hb + 2 * j + 8, 8);
            a = _pext_u64(a, m) | (_pext_u64(b, m) << (4 * w));
            memcpy(rp, &a, 8);
            rp += w;
        }
    else
        for (j = 0; j < n8; j += 8) {
            uint64_t a, b;
            memcpy(&a, hb + 2 * j, 8);
            memcpy(&b, hb + 2 * j + 8, 8);
            a = fold4(a & m, w) | (fold4(b & m, w) << (4 * w));
            memcpy(rp, &a, 8);
            rp += w;
        }
}

#else /* no x86: zw_have_avx2() is 0, so no caller reaches these */
void zw_pack_rest_bmi2(const uint8_t *hb, size_t n8, int w, uint8_t *rp)
{
    (void)hb, (void)n8, (void)w, (void)rp;
    abort();
}
void zw_float_enc_steps_avx2(const uint8_t *hb, size_t seg, int w, int A, int eshift, int emask,
                             const int *thr, int nt, int sgoff, const zw_esym *es,
                             uint32_t *x, uint8_t **pp)
{
    (void)hb, (void)seg, (void)w, (void)A, (void)eshift, (void)emask, (void)thr, (void)nt;
    (void)sgoff;
    (void)es, (void)x, (void)pp;
    abort();
}
#endif
