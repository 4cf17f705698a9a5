/* AVX2 / AVX-512 pieces of the delta coder (csrc/delta.c drives
 * them block by block and keeps the scalar paths and everything that reads the extra
 * bits). Results are bit-identical to delta.c's portable code.
 *
 * A block is S steps (a multiple of 16, at most ZW_BLK) of the 32 lanes. Lane l's values
 * are contiguous in memory (value l*seg + i), but rANS decodes them a step at a time
 * (all 32 lanes at step i), so the base values come in through 16 x 16 transposes
 * (lane-major -> step-major, bstep[s*32 + l]) and the decoded values go out through
 * them again, each lane's run copied through a small lane-major buffer. The rANS steps
 * are bound by the latency of their table loads (one gather per step and vector, then
 * a multiply, then the renormalization), which leaves the core mostly idle: the
 * transposes and copies of the neighbouring blocks run inside the same loop, a unit per
 * step, and cost little more than nothing there. */
#include <stdlib.h>
#include <string.h>

#include "zw.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(ZW_PORTABLE)
#include <immintrin.h>

#include "transpose16.h"

#define T __attribute__((target("avx2,popcnt,bmi2,prfchw")))

/* one bit per 16-bit lane of a compare result (lane i -> bit i): the signed pack keeps
 * 0xffff / 0 as 0xff / 0. Not PEXT, which AMD before Zen 3 runs in microcode. */
T static inline unsigned lanes16(__m256i c)
{
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1)));
}

/* values from z and the base, step-major, 16 at a time (spec/CODERS.md 4, "Values") */
T static inline __m256i apply16(__m256i z, __m256i b, int op)
{
    const __m256i sgn = _mm256_set1_epi16((short)0x8000), one = _mm256_set1_epi16(1);
    __m256i o, dd;
    if (op) return _mm256_xor_si256(z, b);
    o = _mm256_xor_si256(b, _mm256_or_si256(sgn, _mm256_srai_epi16(b, 15)));          /* ord(b) */
    dd = _mm256_xor_si256(_mm256_srli_epi16(z, 1),
                          _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_and_si256(z, one))); /* unzigzag */
    o = _mm256_add_epi16(o, dd);
    /* unord: positive (sign set) -> clear the sign; else flip every bit */
    return _mm256_xor_si256(o, _mm256_or_si256(sgn, _mm256_xor_si256(_mm256_srai_epi16(o, 15),
                                                                     _mm256_set1_epi16(-1))));
}

/* The side work in units. In: lane l's run of base values copied to the staging rows
 * (units 0..31: the lanes lie seg values apart, often a multiple of 4 KiB, so reading
 * 16 of them at one offset for a transpose would map every line to the same L1 set),
 * then the 16 x 16 transposes into step-major order. Out: the values of 16 steps of
 * 16 lanes, transposed into the staging rows, then each lane's run copied out whole. */
/* 32-bit values as two 16-bit planes (spec/CODERS.md 4 on W = 32: the order map, the
 * un-zigzag and the sum modulo 2^32 carried from the low half to the high one) */
T static inline void apply32(__m256i zl, __m256i zh, __m256i bl, __m256i bh, int op, __m256i *tl, __m256i *th)
{
    const __m256i sgn = _mm256_set1_epi16((short)0x8000), one = _mm256_set1_epi16(1), ones = _mm256_set1_epi16(-1);
    __m256i sb, obl, obh, odd, dl, dh, ol, oh, lt, so;
    if (op) {
        *tl = _mm256_xor_si256(zl, bl);
        *th = _mm256_xor_si256(zh, bh);
        return;
    }
    sb = _mm256_srai_epi16(bh, 15);
    obh = _mm256_xor_si256(bh, _mm256_or_si256(sgn, sb));
    obl = _mm256_xor_si256(bl, sb);
    odd = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_and_si256(zl, one));
    dl = _mm256_xor_si256(_mm256_or_si256(_mm256_srli_epi16(zl, 1), _mm256_slli_epi16(zh, 15)), odd);
    dh = _mm256_xor_si256(_mm256_srli_epi16(zh, 1), odd);
    ol = _mm256_add_epi16(obl, dl);
    lt = _mm256_xor_si256(_mm256_cmpeq_epi16(_mm256_max_epu16(ol, obl), ol), ones); /* ol < obl: a carry */
    oh = _mm256_sub_epi16(_mm256_add_epi16(obh, dh), lt);
    so = _mm256_xor_si256(_mm256_srai_epi16(oh, 15), ones);
    *th = _mm256_xor_si256(oh, _mm256_or_si256(sgn, so));
    *tl = _mm256_xor_si256(ol, so);
}

/* The side work in units. In: lane l's run of base values copied to the staging rows
 * (units 0..31: the lanes lie seg values apart, often a multiple of 4 KiB, so reading
 * 16 of them at one offset for a transpose would map every line to the same L1 set),
 * then the 16 x 16 transposes into step-major order. Out: the values of 16 steps of
 * 16 lanes, transposed into the staging rows, then each lane's run copied out whole.
 * 32-bit values go through both as two 16-bit planes. */
T static inline void side_in(zw_dside *sw, int u)
{
    int k, s0;
    if (u < ZW_LANES) {
        const int vb = sw->W / 8;
        const uint8_t *src = sw->base + (size_t)vb * ((size_t)u * sw->seg + sw->in_i0);
        uint8_t *to = sw->W == 16 ? (uint8_t *)sw->lin[u] : (uint8_t *)sw->lin32[u];
        for (k = 0; k < vb * sw->in_S; k += 32)
            _mm256_store_si256((__m256i *)(to + k), _mm256_loadu_si256((const __m256i *)(src + k)));
    } else {
        __m256i r[16], r2[16];
        int g = (u - ZW_LANES) & 1;
        s0 = 16 * ((u - ZW_LANES) >> 1);
        if (sw->W == 16) {
            for (k = 0; k < 16; k++) r[k] = _mm256_load_si256((const __m256i *)(sw->lin[16 * g + k] + s0));
        } else {
            const __m256i lo = _mm256_set1_epi32(0xffff);
            for (k = 0; k < 16; k++) {
                __m256i a = _mm256_load_si256((const __m256i *)(sw->lin32[16 * g + k] + s0)),
                        b = _mm256_load_si256((const __m256i *)(sw->lin32[16 * g + k] + s0 + 8));
                r[k] = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_srli_epi32(a, 16), _mm256_srli_epi32(b, 16)), 0xD8);
                r2[k] = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_and_si256(a, lo), _mm256_and_si256(b, lo)), 0xD8);
            }
            transpose16(r2);
            for (k = 0; k < 16; k++) _mm256_store_si256((__m256i *)(sw->in_b2 + (s0 + k) * ZW_LANES + 16 * g), r2[k]);
        }
        transpose16(r);
        for (k = 0; k < 16; k++) _mm256_store_si256((__m256i *)(sw->in_b + (s0 + k) * ZW_LANES + 16 * g), r[k]);
    }
}

T static inline void side_out(zw_dside *sw, int u)
{
    int k, s0, nt = 2 * (sw->out_S / 16);
    if (u < nt) {
        __m256i r[16], r2[16];
        int g = u & 1;
        s0 = 16 * (u >> 1);
        for (k = 0; k < 16; k++) {
            size_t o = (size_t)(s0 + k) * ZW_LANES + 16 * (size_t)g;
            if (sw->W == 16)
                r[k] = apply16(_mm256_load_si256((const __m256i *)(sw->out_z + o)),
                               _mm256_load_si256((const __m256i *)(sw->out_b + o)), sw->op);
            else
                apply32(_mm256_load_si256((const __m256i *)(sw->out_z + o)),
                        _mm256_load_si256((const __m256i *)(sw->out_z2 + o)),
                        _mm256_load_si256((const __m256i *)(sw->out_b2 + o)),
                        _mm256_load_si256((const __m256i *)(sw->out_b + o)), sw->op, &r2[k], &r[k]);
        }
        transpose16(r);
        if (sw->W == 16) {
            for (k = 0; k < 16; k++) _mm256_store_si256((__m256i *)(sw->lout[16 * g + k] + s0), r[k]);
        } else {
            transpose16(r2);
            for (k = 0; k < 16; k++) { /* the halves of lane 16g+k's 16 values, interleaved */
                __m256i a = _mm256_unpacklo_epi16(r2[k], r[k]), b = _mm256_unpackhi_epi16(r2[k], r[k]);
                _mm256_store_si256((__m256i *)(sw->lout32[16 * g + k] + s0), _mm256_permute2x128_si256(a, b, 0x20));
                _mm256_store_si256((__m256i *)(sw->lout32[16 * g + k] + s0 + 8), _mm256_permute2x128_si256(a, b, 0x31));
            }
        }
    } else {
        const int vb = sw->W / 8;
        int l = u - nt;
        uint8_t *o = sw->dst + (size_t)vb * ((size_t)l * sw->seg + sw->out_i0);
        const uint8_t *from = sw->W == 16 ? (const uint8_t *)sw->lout[l] : (const uint8_t *)sw->lout32[l];
        for (k = 0; k < vb * sw->out_S; k += 32)
            _mm256_storeu_si256((__m256i *)(o + k), _mm256_load_si256((const __m256i *)(from + k)));
    }
}

static inline int side_in_units(const zw_dside *sw) { return sw->in_S ? ZW_LANES + 2 * (sw->in_S / 16) : 0; }
static inline int side_out_units(const zw_dside *sw) { return sw->out_S ? 2 * (sw->out_S / 16) + ZW_LANES : 0; }

/* the lines (4, or 8 for W = 32, at most) of lane l's run of S values at step i0 */
T static inline void prefetch_run(const uint8_t *p, size_t seg, int W, int l, size_t i0, int S, int write)
{
    const uint8_t *a = p + (size_t)(W / 8) * ((size_t)l * seg + i0);
    int k;
    for (k = 0; k < W / 8 * S; k += 64) {
        if (write)
            __builtin_prefetch(a + k, 1, 3); /* prefetchw under the target's prfchw */
        else
            __builtin_prefetch(a + k, 0, 3);
    }
}

/* Each side prefetches the lines of the lane its copy touches a block later: 32 (times
 * 2) streams are more than the hardware prefetcher follows (measured: the lane-by-lane
 * copies alone ran 3x slower than a memcpy from memory; so prefetched, as fast) */

/* one unit of one of the two sides, alternately (each has at most 48 units: both are
 * done within 96 steps of a full block) */
T static inline void side_step(zw_dside *sw, int t)
{
    if (t & 1) {
        int v = sw->out_u - 2 * (sw->out_S / 16);
        if (v >= 0 && v < ZW_LANES && sw->pw_S) prefetch_run(sw->dst, sw->seg, sw->W, v, sw->out_i0 + ZW_BLK, sw->pw_S, 1);
        if (sw->out_u < side_out_units(sw)) side_out(sw, sw->out_u++);
    } else {
        if (sw->in_u < ZW_LANES && sw->pf_S) prefetch_run(sw->base, sw->seg, sw->W, sw->in_u, sw->pf_i0, sw->pf_S, 0);
        if (sw->in_u < side_in_units(sw)) side_in(sw, sw->in_u++);
    }
}

T void zw_delta_side_finish_avx2(zw_dside *sw)
{
    while (sw->in_u < side_in_units(sw)) side_in(sw, sw->in_u++);
    while (sw->out_u < side_out_units(sw)) side_out(sw, sw->out_u++);
}

/* The rANS steps of a block, with each symbol's context from its base value's exponent
 * and the tables of delta.c (token 0 from the registers, the other slots by a masked
 * gather from the tail table). Tokens go to zstep[s*32 + l]; the positions
 * (cx->s0 + s)*32 + l of the tokens >= 16 (they take extra bits, which delta.c reads
 * afterwards in decoding order) go to big[], their count is returned: lists, not masks,
 * so that the reader of the extra bits has no branch per step to mispredict. The caller
 * guarantees end - p >= 64*S + 64. */

/* AVX2: 4 vectors of 8 lanes; the word of each renormalizing lane picked by RLUT (its
 * rank among the vector's words), the big positions compressed by BLUT */
#define PC8(v) (((v)&1) + (((v) >> 1) & 1) + (((v) >> 2) & 1) + (((v) >> 3) & 1) + \
                (((v) >> 4) & 1) + (((v) >> 5) & 1) + (((v) >> 6) & 1) + (((v) >> 7) & 1))
#define RL1(m) {PC8((m)&0), PC8((m)&1), PC8((m)&3), PC8((m)&7), PC8((m)&15), PC8((m)&31), \
                PC8((m)&63), PC8((m)&127)}
#define RL4(m) RL1(m), RL1((m) + 1), RL1((m) + 2), RL1((m) + 3)
#define RL16(m) RL4(m), RL4((m) + 4), RL4((m) + 8), RL4((m) + 12)
#define RL64(m) RL16(m), RL16((m) + 16), RL16((m) + 32), RL16((m) + 48)
static const uint8_t RLUT[256][8] = {RL64(0), RL64(64), RL64(128), RL64(192)};

/* BLUT[m]: the pshufb moving the 16-bit lanes set in m to the front, in order */
static uint8_t BLUT[256][16];
static int blut_ready;

void zw_delta_simd_init(void) /* from zw_cpu_init, at module import */
{
    int m, k, r;
    if (blut_ready) return;
    for (m = 0; m < 256; m++) {
        for (k = 0; k < 16; k++) BLUT[m][k] = 0x80;
        for (k = 0, r = 0; k < 8; k++)
            if ((m >> k) & 1) {
                BLUT[m][2 * r] = (uint8_t)(2 * k);
                BLUT[m][2 * r + 1] = (uint8_t)(2 * k + 1);
                r++;
            }
    }
    blut_ready = 1;
}

#define PER_STEP(s)                                                                       \
    do {                                                                                  \
        if (cx->side) side_step(cx->side, cx->s0 + (s));                                  \
    } while (0)

T int zw_delta_rans16_avx2(zw_rdec *d, const zw_dctx16 *cx, const uint16_t *bstep, int S, uint16_t *zstep,
                           uint16_t *big)
{
    __m256i x[4];
    const uint8_t *p = d->p;
    const int *tail = (const int *)cx->tail;
    const __m256i smask = _mm256_set1_epi32((1 << cx->P) - 1), Lv = _mm256_set1_epi32((int)ZW_L),
                  emv = _mm256_set1_epi32(cx->emask), elov = _mm256_set1_epi32(cx->elo),
                  cmax = _mm256_set1_epi32(cx->C - 1), zero = _mm256_setzero_si256(),
                  offm = _mm256_set1_epi32(0xfff), symm = _mm256_set1_epi32(0x7f),
                  fifteen = _mm256_set1_epi32(15), seven = _mm256_set1_epi32(7),
                  ones = _mm256_set1_epi32(-1),
                  f0lo = _mm256_loadu_si256((const __m256i *)cx->f0),
                  f0hi = _mm256_loadu_si256((const __m256i *)(cx->f0 + 8)),
                  tblo = _mm256_loadu_si256((const __m256i *)cx->tb),
                  tbhi = _mm256_loadu_si256((const __m256i *)(cx->tb + 8));
    const __m128i pc = _mm_cvtsi32_si128(cx->P), ec = _mm_cvtsi32_si128(cx->eshift),
                  iota = _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7);
    int v, s, nb = 0;
    for (v = 0; v < 4; v++) x[v] = _mm256_loadu_si256((const __m256i *)(d->x + 8 * v));
    for (s = 0; s < S; s++) {
        __m256i sv[4];
        PER_STEP(s);
        for (v = 0; v < 4; v++) {
            __m256i b = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)(bstep + s * ZW_LANES + 8 * v)));
            __m256i c = _mm256_and_si256(_mm256_srl_epi32(b, ec), emv);
            c = _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(c, elov), zero), cmax);
            __m256i hi = _mm256_cmpgt_epi32(c, seven);
            __m256i f0 = _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(f0lo, c),
                                            _mm256_permutevar8x32_epi32(f0hi, c), hi);
            __m256i tb = _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(tblo, c),
                                            _mm256_permutevar8x32_epi32(tbhi, c), hi);
            __m256i slot = _mm256_and_si256(x[v], smask);
            __m256i in0 = _mm256_cmpgt_epi32(f0, slot); /* token 0: no load */
            __m256i e = _mm256_or_si256(_mm256_slli_epi32(f0, 19), _mm256_slli_epi32(slot, 7));
            e = _mm256_mask_i32gather_epi32(e, tail, _mm256_add_epi32(tb, slot), _mm256_xor_si256(in0, ones), 4);
            x[v] = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_srli_epi32(e, 19), _mm256_srl_epi32(x[v], pc)),
                                    _mm256_and_si256(_mm256_srli_epi32(e, 7), offm));
            sv[v] = _mm256_and_si256(e, symm);
        }
        for (v = 0; v < 4; v++) {
            __m256i need = _mm256_cmpgt_epi32(Lv, x[v]);
            int mk = _mm256_movemask_ps(_mm256_castsi256_ps(need));
            __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
            __m256i perm = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)RLUT[mk]));
            __m256i w = _mm256_permutevar8x32_epi32(words, perm);
            x[v] = _mm256_blendv_epi8(x[v], _mm256_or_si256(_mm256_slli_epi32(x[v], 16), w), need);
            p += 2 * _mm_popcnt_u32((unsigned)mk);
        }
        for (v = 0; v < 4; v++) {
            int mb = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(sv[v], fifteen)));
            __m128i pos = _mm_add_epi16(iota, _mm_set1_epi16((short)((cx->s0 + s) * ZW_LANES + 8 * v)));
            _mm_storeu_si128((__m128i *)(big + nb),
                             _mm_shuffle_epi8(pos, _mm_loadu_si128((const __m128i *)BLUT[mb])));
            nb += _mm_popcnt_u32((unsigned)mb);
        }
        for (v = 0; v < 4; v += 2)
            _mm256_store_si256((__m256i *)(zstep + s * ZW_LANES + 8 * v),
                               _mm256_permute4x64_epi64(_mm256_packus_epi32(sv[v], sv[v + 1]), 0xD8));
    }
    for (v = 0; v < 4; v++) _mm256_storeu_si256((__m256i *)(d->x + 8 * v), x[v]);
    d->p = p;
    return nb;
}

/* AVX-512: 2 vectors of 16 lanes; token 0's frequency and the tail base from vpermd of
 * the contexts; one vpexpandw hands the words to the renormalizing lanes of both
 * vectors, one vpcompressw packs the big positions of all 32 lanes */
#define T5 __attribute__((target("avx2,popcnt,bmi2,prfchw,avx512f,avx512bw,avx512vl,avx512vbmi2")))
T5 int zw_delta_rans16_avx512(zw_rdec *d, const zw_dctx16 *cx, const uint16_t *bstep, int S, uint16_t *zstep,
                              uint16_t *big)
{
    __m512i x[2];
    const uint8_t *p = d->p;
    const void *tail = cx->tail;
    const __m512i smask = _mm512_set1_epi32((1 << cx->P) - 1), Lv = _mm512_set1_epi32((int)ZW_L),
                  emv = _mm512_set1_epi32(cx->emask), elov = _mm512_set1_epi32(cx->elo),
                  cmax = _mm512_set1_epi32(cx->C - 1), zero = _mm512_setzero_si512(),
                  offm = _mm512_set1_epi32(0xfff), symm = _mm512_set1_epi32(0x7f),
                  fifteen = _mm512_set1_epi32(15),
                  f0t = _mm512_loadu_si512((const void *)cx->f0), tbt = _mm512_loadu_si512((const void *)cx->tb),
                  iota = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                                          15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                  wlo = _mm512_set_epi16(0, 15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8,
                                         0, 7, 0, 6, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0),
                  whi = _mm512_add_epi16(wlo, _mm512_set1_epi16(16));
    const __m128i pc = _mm_cvtsi32_si128(cx->P), ec = _mm_cvtsi32_si128(cx->eshift);
    int v, s, nb = 0;
    for (v = 0; v < 2; v++) x[v] = _mm512_loadu_si512((const void *)(d->x + 16 * v));
    for (s = 0; s < S; s++) {
        __m512i sv[2], nx[2];
        __mmask16 need[2], kb[2];
        __mmask32 k;
        PER_STEP(s);
        for (v = 0; v < 2; v++) {
            __m512i b = _mm512_cvtepu16_epi32(_mm256_load_si256((const __m256i *)(bstep + s * ZW_LANES + 16 * v)));
            __m512i c = _mm512_and_si512(_mm512_srl_epi32(b, ec), emv);
            c = _mm512_min_epi32(_mm512_max_epi32(_mm512_sub_epi32(c, elov), zero), cmax);
            __m512i f0 = _mm512_permutexvar_epi32(c, f0t), tb = _mm512_permutexvar_epi32(c, tbt);
            __m512i slot = _mm512_and_si512(x[v], smask);
            __mmask16 far = _mm512_cmpge_epu32_mask(slot, f0); /* not token 0: a load */
            __m512i e = _mm512_or_si512(_mm512_slli_epi32(f0, 19), _mm512_slli_epi32(slot, 7));
            e = _mm512_mask_i32gather_epi32(e, far, _mm512_add_epi32(tb, slot), tail, 4);
            nx[v] = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_srli_epi32(e, 19), _mm512_srl_epi32(x[v], pc)),
                                     _mm512_and_si512(_mm512_srli_epi32(e, 7), offm));
            need[v] = _mm512_cmplt_epu32_mask(nx[v], Lv);
            sv[v] = _mm512_and_si512(e, symm);
        }
        k = (__mmask32)_mm512_kunpackw((__mmask16)need[1], (__mmask16)need[0]);
        {
            __m512i w = _mm512_loadu_si512((const void *)p);
            /* the register form: expand-from-memory is a slow masked load on Intel */
            __asm__("" : "+v"(w));
            w = _mm512_maskz_expand_epi16(k, w);
            p += 2 * _mm_popcnt_u32((unsigned)k);
            /* each half's 16 words to the low halves of 32-bit lanes: one vpermw each */
            x[0] = _mm512_mask_or_epi32(nx[0], need[0], _mm512_slli_epi32(nx[0], 16),
                                        _mm512_maskz_permutexvar_epi16(0x55555555, wlo, w));
            x[1] = _mm512_mask_or_epi32(nx[1], need[1], _mm512_slli_epi32(nx[1], 16),
                                        _mm512_maskz_permutexvar_epi16(0x55555555, whi, w));
        }
        for (v = 0; v < 2; v++) kb[v] = _mm512_cmpgt_epu32_mask(sv[v], fifteen);
        k = (__mmask32)_mm512_kunpackw((__mmask16)kb[1], (__mmask16)kb[0]);
        {
            __m512i pos = _mm512_add_epi16(iota, _mm512_set1_epi16((short)((cx->s0 + s) * ZW_LANES)));
            _mm512_storeu_si512((void *)(big + nb), _mm512_maskz_compress_epi16(k, pos));
            nb += _mm_popcnt_u32((unsigned)k);
        }
        _mm512_storeu_si512((void *)(zstep + s * ZW_LANES),
                            _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(sv[0])),
                                               _mm512_cvtepi32_epi16(sv[1]), 1));
    }
    for (v = 0; v < 2; v++) _mm512_storeu_si512((void *)(d->x + 16 * v), x[v]);
    d->p = p;
    return nb;
}

/* ---------------------------------------------------------------- encoder */

/* z and its token for 8 16-bit differences widened to 32-bit lanes: below 16 the token
 * is z; above, z's float gives both the bit length k (exponent 127 + k) and the bit
 * below the top one (the mantissa's top bit), so token 2k + 8 + bit = (bits >> 22) - 246
 * and the k - 1 extra bits (bits >> 23) - 128, exact for z < 2^24 */
T static inline __m256i token8(__m256i z, __m256i *nx)
{
    const __m256i fifteen = _mm256_set1_epi32(15);
    __m256i bits = _mm256_castps_si256(_mm256_cvtepi32_ps(z)), big = _mm256_cmpgt_epi32(z, fifteen);
    *nx = _mm256_and_si256(big, _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(128)));
    return _mm256_blendv_epi8(z, _mm256_sub_epi32(_mm256_srli_epi32(bits, 22), _mm256_set1_epi32(246)), big);
}

/* the tokens of 16 values as 16-bit lanes, and their extra bit counts added to acc */
T static inline __m256i token16(__m256i z, __m256i *acc)
{
    __m256i n0, n1, lo = token8(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(z)), &n0),
                    hi = token8(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(z, 1)), &n1);
    *acc = _mm256_add_epi32(*acc, _mm256_add_epi32(n0, n1));
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
}

/* the z of both transforms, 16-bit lanes (spec/CODERS.md 4: XOR; the order map, the
 * difference modulo 2^16, zigzagged) */
T static inline __m256i zxor16(__m256i t, __m256i b) { return _mm256_xor_si256(t, b); }
T static inline __m256i zord16(__m256i t, __m256i b)
{
    const __m256i sgn = _mm256_set1_epi16((short)0x8000);
    __m256i ot = _mm256_xor_si256(t, _mm256_or_si256(sgn, _mm256_srai_epi16(t, 15)));
    __m256i ob = _mm256_xor_si256(b, _mm256_or_si256(sgn, _mm256_srai_epi16(b, 15)));
    __m256i d = _mm256_sub_epi16(ot, ob);
    return _mm256_xor_si256(_mm256_slli_epi16(d, 1), _mm256_srai_epi16(d, 15));
}

/* the 16-bit lanes of v set in the 16-bit mask m, in order, to out; returns how many */
T static inline int compress16(__m256i v, unsigned m, uint16_t *out)
{
    int c0 = _mm_popcnt_u32(m & 0xff);
    _mm_storeu_si128((__m128i *)out, _mm_shuffle_epi8(_mm256_castsi256_si128(v),
                                                      _mm_loadu_si128((const __m128i *)BLUT[m & 0xff])));
    _mm_storeu_si128((__m128i *)(out + c0), _mm_shuffle_epi8(_mm256_extracti128_si256(v, 1),
                                                             _mm_loadu_si128((const __m128i *)BLUT[m >> 8])));
    return c0 + _mm_popcnt_u32(m >> 8);
}

#define D_CB 1024 /* values counted per batch of scalar increments */

T void zw_delta_count16_avx2(const uint8_t *src, const uint8_t *base, size_t n, int eshift, int emask,
                             uint32_t *eh, uint32_t *hx, uint64_t *extra)
{
    /* the exponents are few and their counters hot: four copies, so that successive
     * increments of one counter do not wait on each other */
    uint32_t eh4[4][256];
    uint16_t ebuf[D_CB], list[2 * D_CB + 16];
    const __m128i ec = _mm_cvtsi32_si128(eshift);
    const __m256i emv = _mm256_set1_epi16((short)emask), x1 = _mm256_set1_epi16(256 * 64);
    size_t j0, k;
    int i;
    memset(eh4, 0, sizeof eh4);
    for (j0 = 0; j0 < n; j0 += D_CB) {
        size_t m = n - j0 < D_CB ? n - j0 : D_CB;
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        int nl = 0;
        for (k = 0; k < m; k += 16) {
            __m256i t = _mm256_loadu_si256((const __m256i *)(src + 2 * (j0 + k)));
            __m256i b = _mm256_loadu_si256((const __m256i *)(base + 2 * (j0 + k)));
            __m256i ev = _mm256_and_si256(_mm256_srl_epi16(b, ec), emv);
            __m256i e64 = _mm256_slli_epi16(ev, 6);
            unsigned neq = ~lanes16(_mm256_cmpeq_epi16(t, b)) & 0xffff;
            _mm256_storeu_si256((__m256i *)(ebuf + k), ev);
            if (neq) { /* a quarter of a fine-tune's values: the rest are token 0 for both */
                __m256i h0 = _mm256_add_epi16(e64, token16(zord16(t, b), &acc0));
                __m256i h1 = _mm256_add_epi16(_mm256_add_epi16(e64, x1), token16(zxor16(t, b), &acc1));
                nl += compress16(h0, neq, list + nl);
                nl += compress16(h1, neq, list + nl);
            }
        }
        for (k = 0; k < m; k++) eh4[k & 3][ebuf[k]]++;
        for (i = 0; i < nl; i++) hx[list[i]]++;
        {
            uint32_t a0[8], a1[8];
            _mm256_storeu_si256((__m256i *)a0, acc0);
            _mm256_storeu_si256((__m256i *)a1, acc1);
            for (i = 0; i < 8; i++) extra[0] += a0[i], extra[1] += a1[i];
        }
    }
    for (i = 0; i < 256; i++) eh[i] += eh4[0][i] + eh4[1][i] + eh4[2][i] + eh4[3][i];
}

/* One block of S steps from step i0, step-major: idx[s*32 + l] = context * 64 + token of
 * the chosen transform, z[s*32 + l] its z; big[] the positions s*32 + l of the tokens
 * >= 16 in decoding order (returned: their count), whose extra bits the caller writes */
T int zw_delta_prep16_avx2(const uint8_t *src, const uint8_t *base, size_t seg, size_t i0, int S,
                           const zw_dctx16 *cx, int op, uint16_t *idx, uint16_t *z, uint16_t *big)
{
    _Alignas(32) uint16_t lt[ZW_LANES][ZW_BLK], lb[ZW_LANES][ZW_BLK];
    const __m128i ec = _mm_cvtsi32_si128(cx->eshift);
    const __m256i emv = _mm256_set1_epi16((short)cx->emask), elov = _mm256_set1_epi16((short)cx->elo),
                  cmax = _mm256_set1_epi16((short)(cx->C - 1)), zero = _mm256_setzero_si256(),
                  fifteen = _mm256_set1_epi16(15), iota = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                           10, 11, 12, 13, 14, 15);
    __m256i rt[16], rb[16], junk = _mm256_setzero_si256();
    int l, s0, g, k, nb = 0, s;
    for (l = 0; l < ZW_LANES; l++) {
        const uint8_t *a = src + 2 * ((size_t)l * seg + i0), *b = base + 2 * ((size_t)l * seg + i0);
        for (s0 = 0; s0 < S; s0 += 16) {
            _mm256_store_si256((__m256i *)(lt[l] + s0), _mm256_loadu_si256((const __m256i *)(a + 2 * s0)));
            _mm256_store_si256((__m256i *)(lb[l] + s0), _mm256_loadu_si256((const __m256i *)(b + 2 * s0)));
        }
    }
    for (s0 = 0; s0 < S; s0 += 16)
        for (g = 0; g < ZW_LANES / 16; g++) {
            for (k = 0; k < 16; k++) {
                rt[k] = _mm256_load_si256((const __m256i *)(lt[16 * g + k] + s0));
                rb[k] = _mm256_load_si256((const __m256i *)(lb[16 * g + k] + s0));
            }
            transpose16(rt);
            transpose16(rb);
            for (k = 0; k < 16; k++) {
                size_t o = (size_t)(s0 + k) * ZW_LANES + 16 * (size_t)g;
                __m256i zz = op ? zxor16(rt[k], rb[k]) : zord16(rt[k], rb[k]);
                __m256i c = _mm256_and_si256(_mm256_srl_epi16(rb[k], ec), emv);
                c = _mm256_min_epi16(_mm256_max_epi16(_mm256_sub_epi16(c, elov), zero), cmax);
                _mm256_store_si256((__m256i *)(idx + o), _mm256_add_epi16(_mm256_slli_epi16(c, 6), token16(zz, &junk)));
                _mm256_store_si256((__m256i *)(z + o), zz);
            }
        }
    for (s = 0; s < S; s++) /* decoding order: the big ones of each step, lanes ascending */
        for (g = 0; g < ZW_LANES / 16; g++) {
            __m256i zz = _mm256_load_si256((const __m256i *)(z + s * ZW_LANES + 16 * g));
            /* z > 15 as unsigned 16-bit: max(z, 16) == z */
            unsigned m = lanes16(_mm256_cmpeq_epi16(
                                       _mm256_max_epu16(zz, _mm256_add_epi16(fifteen, _mm256_set1_epi16(1))), zz));
            if (m) nb += compress16(_mm256_add_epi16(iota, _mm256_set1_epi16((short)(s * ZW_LANES + 16 * g))), m, big + nb);
        }
    return nb;
}

/* The token of 8 32-bit z and its extra bit count (spec 4): the bit length k from the
 * float of z, exact below 2^24 (above, of z >> 8, plus 8), the bit below the top one
 * shifted down */
T static inline __m256i token8w(__m256i z, __m256i *nx)
{
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1), ones = _mm256_set1_epi32(-1);
    __m256i hi = _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_srli_epi32(z, 24), zero), ones);
    __m256i big = _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_srli_epi32(z, 4), zero), ones);
    __m256i zz = _mm256_blendv_epi8(z, _mm256_srli_epi32(z, 8), hi);
    __m256i k = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(zz)), 23),
                                 _mm256_set1_epi32(127));
    __m256i bit;
    k = _mm256_add_epi32(k, _mm256_and_si256(hi, _mm256_set1_epi32(8)));
    bit = _mm256_and_si256(_mm256_srlv_epi32(z, _mm256_sub_epi32(k, one)), one);
    *nx = _mm256_and_si256(big, _mm256_sub_epi32(k, one));
    return _mm256_blendv_epi8(z, _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(k, 1), _mm256_set1_epi32(8)), bit),
                              big);
}

T static inline __m256i zord32(__m256i t, __m256i b)
{
    const __m256i sgn = _mm256_set1_epi32((int)0x80000000u);
    __m256i ot = _mm256_xor_si256(t, _mm256_or_si256(sgn, _mm256_srai_epi32(t, 31)));
    __m256i ob = _mm256_xor_si256(b, _mm256_or_si256(sgn, _mm256_srai_epi32(b, 31)));
    __m256i d = _mm256_sub_epi32(ot, ob);
    return _mm256_xor_si256(_mm256_slli_epi32(d, 1), _mm256_srai_epi32(d, 31));
}

/* 16 u32 as 16 u16 lanes (each below 2^16) */
T static inline __m256i pack16(__m256i a, __m256i b)
{
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
}

T void zw_delta_count32_avx2(const uint8_t *src, const uint8_t *base, size_t n, uint32_t *eh, uint32_t *hx,
                             uint64_t *extra)
{
    uint32_t eh4[4][256];
    uint16_t ebuf[D_CB], list[2 * D_CB + 16];
    const __m256i e8 = _mm256_set1_epi32(0xff), x1 = _mm256_set1_epi32(256 * 128);
    size_t j0, k;
    int i, h;
    memset(eh4, 0, sizeof eh4);
    for (j0 = 0; j0 < n; j0 += D_CB) {
        size_t m = n - j0 < D_CB ? n - j0 : D_CB;
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        int nl = 0;
        for (k = 0; k < m; k += 16) {
            __m256i ev[2], h0[2], h1[2];
            unsigned neq = 0;
            for (h = 0; h < 2; h++) {
                __m256i t = _mm256_loadu_si256((const __m256i *)(src + 4 * (j0 + k + 8 * (size_t)h)));
                __m256i b = _mm256_loadu_si256((const __m256i *)(base + 4 * (j0 + k + 8 * (size_t)h)));
                __m256i n0, n1;
                ev[h] = _mm256_and_si256(_mm256_srli_epi32(b, 23), e8);
                neq |= (~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(t, b))) & 0xff) << (8 * h);
                h0[h] = _mm256_add_epi32(_mm256_slli_epi32(ev[h], 7), token8w(zord32(t, b), &n0));
                h1[h] = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(ev[h], 7), x1), token8w(_mm256_xor_si256(t, b), &n1));
                acc0 = _mm256_add_epi32(acc0, n0);
                acc1 = _mm256_add_epi32(acc1, n1);
            }
            _mm256_storeu_si256((__m256i *)(ebuf + k), pack16(ev[0], ev[1]));
            if (neq) {
                nl += compress16(pack16(h0[0], h0[1]), neq, list + nl);
                nl += compress16(pack16(h1[0], h1[1]), neq, list + nl);
            }
        }
        for (k = 0; k < m; k++) eh4[k & 3][ebuf[k]]++;
        for (i = 0; i < nl; i++) hx[list[i]]++;
        {
            uint32_t a0[8], a1[8];
            _mm256_storeu_si256((__m256i *)a0, acc0);
            _mm256_storeu_si256((__m256i *)a1, acc1);
            for (i = 0; i < 8; i++) extra[0] += a0[i], extra[1] += a1[i];
        }
    }
    for (i = 0; i < 256; i++) eh[i] += eh4[0][i] + eh4[1][i] + eh4[2][i] + eh4[3][i];
}

/* 32-bit values, the steps' part in value order (lane-major): lidx[j] = context * 128 +
 * token of transform op, z[j] (j < 32*seg, a multiple of 16); then idx, step-major, by
 * 16 x 16 transposes of lidx */
T void zw_delta_prep32_avx2(const uint8_t *src, const uint8_t *base, size_t seg, const zw_dctx16 *cx, int op,
                            uint16_t *lidx, uint32_t *z, uint16_t *idx)
{
    const __m256i e8 = _mm256_set1_epi32(0xff), elov = _mm256_set1_epi32(cx->elo),
                  cmax = _mm256_set1_epi32(cx->C - 1), zero = _mm256_setzero_si256();
    const size_t nv = ZW_LANES * seg;
    size_t j, i0;
    int g, k, h;
    __m256i r[16], junk;
    for (j = 0; j < nv; j += 16) {
        __m256i ix[2];
        for (h = 0; h < 2; h++) {
            __m256i t = _mm256_loadu_si256((const __m256i *)(src + 4 * (j + 8 * (size_t)h)));
            __m256i b = _mm256_loadu_si256((const __m256i *)(base + 4 * (j + 8 * (size_t)h)));
            __m256i zz = op ? _mm256_xor_si256(t, b) : zord32(t, b);
            __m256i c = _mm256_and_si256(_mm256_srli_epi32(b, 23), e8);
            c = _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(c, elov), zero), cmax);
            ix[h] = _mm256_add_epi32(_mm256_slli_epi32(c, 7), token8w(zz, &junk));
            _mm256_storeu_si256((__m256i *)(z + j + 8 * (size_t)h), zz);
        }
        _mm256_storeu_si256((__m256i *)(lidx + j), pack16(ix[0], ix[1]));
    }
    for (i0 = 0; i0 < seg; i0 += 16)
        for (g = 0; g < ZW_LANES / 16; g++) {
            for (k = 0; k < 16; k++)
                r[k] = _mm256_loadu_si256((const __m256i *)(lidx + (size_t)(16 * g + k) * seg + i0));
            transpose16(r);
            for (k = 0; k < 16; k++)
                _mm256_storeu_si256((__m256i *)(idx + (i0 + (size_t)k) * ZW_LANES + 16 * (size_t)g), r[k]);
        }
}

/* the positions s*32 + l of S steps of step-major indices whose token (idx & tmask)
 * is >= 16, in decoding order; returns their count */
T int zw_delta_bigs_avx2(const uint16_t *idx, int S, int tmask, uint16_t *big)
{
    const __m256i tm = _mm256_set1_epi16((short)tmask), sixteen = _mm256_set1_epi16(16),
                  iota = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int s, g, nb = 0;
    for (s = 0; s < S; s++)
        for (g = 0; g < ZW_LANES / 16; g++) {
            __m256i tk = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(idx + s * ZW_LANES + 16 * g)), tm);
            unsigned m = lanes16(_mm256_cmpeq_epi16(_mm256_max_epu16(tk, sixteen), tk));
            if (m) nb += compress16(_mm256_add_epi16(iota, _mm256_set1_epi16((short)(s * ZW_LANES + 16 * g))), m, big + nb);
        }
    return nb;
}

/* rANS encoding of steps nsteps-1 down to 0 (reverse decoding order) of the step-major
 * table indices idx, with the 8-byte symbol entries of delta.c (bias | cmpl << 14 |
 * shift << 27, then rcp; x_max - 1 = ((M - cmpl) << (31 - P)) - 1); the words of each
 * vector's renormalizing lanes go below *pp in lane order, as ENC_PUT writes them */
T5 void zw_delta_enc16_avx512(uint32_t *xs, const uint16_t *idx, size_t nsteps, const uint64_t *tab, int P,
                              uint8_t **pp)
{
    __m512i x[2];
    uint8_t *p = *pp;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
                  odd = _mm512_add_epi32(even, _mm512_set1_epi32(1)), m14 = _mm512_set1_epi32(0x3fff),
                  m13 = _mm512_set1_epi32(0x1fff), Mv = _mm512_set1_epi32(1 << P), one = _mm512_set1_epi32(1);
    const __m128i xs_sh = _mm_cvtsi32_si128(31 - P);
    size_t i;
    int v;
    for (v = 0; v < 2; v++) x[v] = _mm512_loadu_si512((const void *)(xs + 16 * v));
    for (i = nsteps; i-- > 0;)
        for (v = 1; v >= 0; v--) {
            __m256i iv = _mm256_loadu_si256((const __m256i *)(idx + i * ZW_LANES + 16 * v));
            __m512i i32 = _mm512_cvtepu16_epi32(iv);
            __m512i g0 = _mm512_i32gather_epi64(_mm512_castsi512_si256(i32), (const void *)tab, 8);
            __m512i g1 = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(i32, 1), (const void *)tab, 8);
            __m512i a = _mm512_permutex2var_epi32(g0, even, g1), rcp = _mm512_permutex2var_epi32(g0, odd, g1);
            __m512i cmpl = _mm512_and_si512(_mm512_srli_epi32(a, 14), m13);
            __m512i xm1 = _mm512_sub_epi32(_mm512_sll_epi32(_mm512_sub_epi32(Mv, cmpl), xs_sh), one);
            __m512i xx = x[v];
            __mmask16 need = _mm512_cmpgt_epu32_mask(xx, xm1);
            int cnt = _mm_popcnt_u32((unsigned)need);
            __m256i w = _mm256_maskz_compress_epi16(need, _mm512_cvtepi32_epi16(xx));
            p -= 2 * cnt;
            _mm256_mask_storeu_epi16(p, (__mmask16)((1u << cnt) - 1), w);
            xx = _mm512_mask_srli_epi32(xx, need, xx, 16);
            {
                __m512i pe = _mm512_srli_epi64(_mm512_mul_epu32(xx, rcp), 32);
                __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(xx, 32), _mm512_srli_epi64(rcp, 32));
                __m512i q = _mm512_mask_blend_epi32(0xAAAA, pe, po);
                q = _mm512_srlv_epi32(q, _mm512_srli_epi32(a, 27));
                x[v] = _mm512_add_epi32(_mm512_add_epi32(xx, _mm512_and_si512(a, m14)), _mm512_mullo_epi32(q, cmpl));
            }
        }
    for (v = 0; v < 2; v++) _mm512_storeu_si512((void *)(xs + 16 * v), x[v]);
    *pp = p;
}

#else /* no x86: zw_have_avx2() is 0, so nothing calls these */
void zw_delta_simd_init(void) {}
int zw_delta_rans16_avx2(zw_rdec *d, const zw_dctx16 *cx, const uint16_t *bstep, int S, uint16_t *zstep,
                         uint16_t *big)
{
    (void)d, (void)cx, (void)bstep, (void)S, (void)zstep, (void)big;
    abort();
}
int zw_delta_rans16_avx512(zw_rdec *d, const zw_dctx16 *cx, const uint16_t *bstep, int S, uint16_t *zstep,
                           uint16_t *big)
{
    (void)d, (void)cx, (void)bstep, (void)S, (void)zstep, (void)big;
    abort();
}
void zw_delta_side_finish_avx2(zw_dside *sw)
{
    (void)sw;
    abort();
}
void zw_delta_count16_avx2(const uint8_t *src, const uint8_t *base, size_t n, int eshift, int emask,
                           uint32_t *eh, uint32_t *hx, uint64_t *extra)
{
    (void)src, (void)base, (void)n, (void)eshift, (void)emask, (void)eh, (void)hx, (void)extra;
    abort();
}
int zw_delta_prep16_avx2(const uint8_t *src, const uint8_t *base, size_t seg, size_t i0, int S,
                         const zw_dctx16 *cx, int op, uint16_t *idx, uint16_t *z, uint16_t *big)
{
    (void)src, (void)base, (void)seg, (void)i0, (void)S, (void)cx, (void)op, (void)idx, (void)z, (void)big;
    abort();
}
void zw_delta_enc16_avx512(uint32_t *xs, const uint16_t *idx, size_t nsteps, const uint64_t *tab, int P,
                           uint8_t **pp)
{
    (void)xs, (void)idx, (void)nsteps, (void)tab, (void)P, (void)pp;
    abort();
}
void zw_delta_count32_avx2(const uint8_t *src, const uint8_t *base, size_t n, uint32_t *eh, uint32_t *hx,
                           uint64_t *extra)
{
    (void)src, (void)base, (void)n, (void)eh, (void)hx, (void)extra;
    abort();
}
void zw_delta_prep32_avx2(const uint8_t *src, const uint8_t *base, size_t seg, const zw_dctx16 *cx, int op,
                          uint16_t *lidx, uint32_t *z, uint16_t *idx)
{
    (void)src, (void)base, (void)seg, (void)cx, (void)op, (void)lidx, (void)z, (void)idx;
    abort();
}
int zw_delta_bigs_avx2(const uint16_t *idx, int S, int tmask, uint16_t *big)
{
    (void)idx, (void)S, (void)tmask, (void)big;
    abort();
}
#endif
