/* AVX2 versions of the rANS block decoder and of the merges. Compiled with per-function
 * target attributes, so the extension stays portable; zw_cpu_init() probes the CPU once
 * and zw_have_avx2() / zw_have_avx512() pick them at run time. Their output is bit-identical to the scalar code in rans.c / floatd.c / ent.c. The encoder's
 * SIMD steps are in avx2_enc.c. */
#include <stdlib.h>
#include <string.h>

#include "zw.h"

/* ZW_PORTABLE builds the non-x86 variant on x86 too, so that it is compiled and tested
 * here (tests/kernels/test_portable.py) */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(ZW_PORTABLE)
#include <cpuid.h>
#include <immintrin.h>

static void merge16_init(void);

/* what this CPU has (0 scalar, 1 AVX2, 2 AVX-512 VL/BW/VBMI2), probed once at import;
 * simd_level is what the kernels use: the CPU's level, capped by ZW_NO_SIMD=1 /
 * ZW_NO_AVX512=1 in the environment at import or by zw_cpu_set (the tests compare all) */
static int cpu_level, simd_level, fast_pext;

/* PEXT is one fast instruction on Intel (Haswell on) and AMD Zen 3 on, but microcode on
 * AMD before Zen 3 (family 0x17 and Hygon's 0x18: tens to hundreds of cycles, growing with
 * the mask's set bits), where it made the SIMD encoder slower than the scalar one. As zstd
 * keys its BMI2 paths to the CPU, the vendor and family decide, once; ZW_NO_PEXT=1 (or 0)
 * forces the shift/mask pack (or PEXT) for tests and benchmarks. Probed with the rest. */

static int pext_probe(void)
{
    unsigned a, b, c, d, fam;
    const char *env = getenv("ZW_NO_PEXT");
    if (env && *env) return *env == '0';
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    /* "AuthenticAMD" / "HygonGenuine" in ebx, edx, ecx */
    if (!((b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u) ||
          (b == 0x6f677948u && d == 0x6e65476eu && c == 0x656e6975u)))
        return 1;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    fam = (a >> 8) & 0xf;
    if (fam == 0xf) fam += (a >> 20) & 0xff;
    return fam >= 0x19;
}


void zw_cpu_init(void)
{
    const char *no_simd = getenv("ZW_NO_SIMD"), *no_512 = getenv("ZW_NO_AVX512");
    __builtin_cpu_init();
    merge16_init();
    zw_delta_simd_init();
    cpu_level = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
        __builtin_cpu_supports("bmi2")) {
        cpu_level = 1;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2"))
            cpu_level = 2;
    }
    simd_level = cpu_level;
    if (no_512 && no_512[0] == '1' && simd_level > 1) simd_level = 1;
    if (no_simd && no_simd[0] == '1') simd_level = 0;
    fast_pext = cpu_level >= 1 && pext_probe();
}

int zw_cpu_set(int level)
{
    simd_level = level < 0 ? 0 : level > cpu_level ? cpu_level : level;
    return simd_level;
}

int zw_have_avx2(void) { return simd_level >= 1; }
int zw_have_avx512(void) { return simd_level >= 2; }
int zw_fast_pext(void) { return fast_pext; }

#define T __attribute__((target("avx2,popcnt,bmi2")))
#define NV (ZW_LANES / 8) /* state vectors */

/* RLUT[m][k]: for lane k that renormalizes under mask m, the index of its word among the
 * words consumed by the vector (the number of set bits of m below bit k) */
#define PC8(v) (((v)&1) + (((v) >> 1) & 1) + (((v) >> 2) & 1) + (((v) >> 3) & 1) + \
                (((v) >> 4) & 1) + (((v) >> 5) & 1) + (((v) >> 6) & 1) + (((v) >> 7) & 1))
#define RL1(m) {PC8((m)&0), PC8((m)&1), PC8((m)&3), PC8((m)&7), PC8((m)&15), PC8((m)&31), \
                PC8((m)&63), PC8((m)&127)}
#define RL4(m) RL1(m), RL1((m) + 1), RL1((m) + 2), RL1((m) + 3)
#define RL16(m) RL4(m), RL4((m) + 4), RL4((m) + 8), RL4((m) + 12)
#define RL64(m) RL16(m), RL16((m) + 16), RL16((m) + 32), RL16((m) + 48)
static const uint8_t RLUT[256][8] = {RL64(0), RL64(64), RL64(128), RL64(192)};

/* the 8 entries et[ib[k]] as g0 = [e0 e1 | e4 e5], g1 = [e2 e3 | e6 e7], by 64-bit loads
 * and shuffles into place (one vector shuffle per entry) */
#define ASM_SHUF(g0, g1)                                                                    \
    __m128d a0 = _mm_loadh_pd(_mm_load_sd((const double *)(et + ib[0])), (const double *)(et + ib[1])); \
    __m128d a1 = _mm_loadh_pd(_mm_load_sd((const double *)(et + ib[4])), (const double *)(et + ib[5])); \
    __m128d b0 = _mm_loadh_pd(_mm_load_sd((const double *)(et + ib[2])), (const double *)(et + ib[3])); \
    __m128d b1 = _mm_loadh_pd(_mm_load_sd((const double *)(et + ib[6])), (const double *)(et + ib[7])); \
    __m256 g0 = _mm256_castpd_ps(_mm256_insertf128_pd(_mm256_castpd128_pd256(a0), a1, 1));     \
    __m256 g1 = _mm256_castpd_ps(_mm256_insertf128_pd(_mm256_castpd128_pd256(b0), b1, 1));
/* the same by broadcast loads (load ports only) and blends (any vector ALU): Intel cores
 * run every shuffle on one port, which the shuffles above and the renormalization's kept
 * busy (measured: the AVX-512 kernel ran at the rate of its port-5 uops) */
#define BQ(k) _mm256_set1_epi64x(*(const long long *)(et + ib[k]))
#define ASM_BLEND(g0, g1)                                                                   \
    __m256 g0 = _mm256_castsi256_ps(_mm256_blend_epi32(_mm256_blend_epi32(BQ(0), BQ(1), 0x0C), \
                                                       _mm256_blend_epi32(BQ(4), BQ(5), 0xC0), 0xF0)); \
    __m256 g1 = _mm256_castsi256_ps(_mm256_blend_epi32(_mm256_blend_epi32(BQ(2), BQ(3), 0x0C), \
                                                       _mm256_blend_epi32(BQ(6), BQ(7), 0xC0), 0xF0));

/* The block decoder, defined once per instruction set: NAME, its target ATTR, the
 * RENORM(v) step that feeds vector v's lanes below ZW_L their next 16-bit words, and
 * ASSEMBLE, how the 8 table entries reach two vectors. */
#define DEFINE_RDEC_BLOCK(NAME, ATTR, RENORM, ASSEMBLE)                                     \
ATTR void NAME(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out)    \
{                                                                                           \
    __m256i x[NV], base[NV];                                                                \
    const long long *et = (const long long *)t->e;                                          \
    const uint8_t *p = d->p;                                                                \
    const __m256i slotmask = _mm256_set1_epi32((1 << t->pb) - 1),                           \
                  lo16 = _mm256_set1_epi32(0xffff), symmask = _mm256_set1_epi32(0xfff),     \
                  Lv = _mm256_set1_epi32((int)ZW_L);                                        \
    const __m128i pbc = _mm_cvtsi32_si128(t->pb);                                           \
    int v, s;                                                                               \
    for (v = 0; v < NV; v++) {                                                              \
        x[v] = _mm256_loadu_si256((const __m256i *)(d->x + 8 * v));                         \
        base[v] = _mm256_loadu_si256((const __m256i *)(d->base + 8 * v));                   \
    }                                                                                       \
    for (s = 0; s < S; s++) {                                                               \
        __m256i sv[NV];                                                                     \
        for (v = 0; v < NV; v++) {                                                          \
            if (ctx) /* contexts given by the caller, not by the previous symbol */        \
                base[v] = _mm256_loadu_si256((const __m256i *)(ctx + s * ZW_LANES + 8 * v)); \
            __m256i slot = _mm256_and_si256(x[v], slotmask);                                \
            __m256i idx = _mm256_add_epi32(base[v], slot);                                  \
            /* table loads: on AMD Zen a store of the indices plus 8 scalar/half-vector     \
             * loads beats vpgather (measured on Zen 5: gathers 12 % slower); entries land as \
             * g0 = [e0 e1 | e4 e5], g1 = [e2 e3 | e6 e7] so the dword shuffles below       \
             * come out in lane order */                                                    \
            uint32_t ib[8];                                                                 \
            _mm256_storeu_si256((__m256i *)ib, idx);                                        \
            ASSEMBLE(g0, g1)                                                                \
            __m256i f = _mm256_castps_si256(_mm256_shuffle_ps(g0, g1, _MM_SHUFFLE(2, 0, 2, 0))); \
            __m256i e = _mm256_castps_si256(_mm256_shuffle_ps(g0, g1, _MM_SHUFFLE(3, 1, 3, 1))); \
            __m256i freq = _mm256_and_si256(f, lo16), start = _mm256_srli_epi32(f, 16);     \
            x[v] = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srl_epi32(x[v], pbc)),  \
                                    _mm256_sub_epi32(slot, start));                         \
            base[v] = _mm256_srli_epi32(e, 12);                                             \
            sv[v] = _mm256_and_si256(e, symmask);                                           \
        }                                                                                   \
        for (v = 0; v < NV; v++) RENORM(v);                                                 \
        for (v = 0; v < NV; v += 2) {                                                       \
            __m256i a = _mm256_permute4x64_epi64(_mm256_packus_epi32(sv[v], sv[v + 1]), 0xD8); \
            _mm256_storeu_si256((__m256i *)(out + s * ZW_LANES + 8 * v), a);                \
        }                                                                                   \
    }                                                                                       \
    for (v = 0; v < NV; v++) {                                                              \
        _mm256_storeu_si256((__m256i *)(d->x + 8 * v), x[v]);                               \
        _mm256_storeu_si256((__m256i *)(d->base + 8 * v), base[v]);                         \
    }                                                                                       \
    d->p = p;                                                                               \
}

/* AVX2: the compare's mask goes to a GPR, which picks each renormalizing lane's word
 * (RLUT: the rank of its bit in the mask) for one permute */
#define RENORM_AVX2(v)                                                                    \
    do {                                                                                  \
        __m256i need = _mm256_cmpgt_epi32(Lv, x[v]);                                      \
        int mk = _mm256_movemask_ps(_mm256_castsi256_ps(need));                           \
        __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));       \
        __m256i perm = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)RLUT[mk]));  \
        __m256i w = _mm256_permutevar8x32_epi32(words, perm);                             \
        __m256i nx = _mm256_or_si256(_mm256_slli_epi32(x[v], 16), w);                    \
        x[v] = _mm256_blendv_epi8(x[v], nx, need);                                        \
        p += 2 * _mm_popcnt_u32((unsigned)mk);                                            \
    } while (0)
DEFINE_RDEC_BLOCK(zw_rdec_block_avx2, T, RENORM_AVX2, ASM_SHUF)

/* AVX-512 (VL, BW, VBMI2) variant of the block decoder: the same 8-lane vectors and
 * identical results; only the renormalization differs (it was about a third of the AVX2
 * decoder's time, measured by leaving it out). */
#define T5 __attribute__((target("avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")))

/* AVX-512: vpexpandw hands the words to the lanes under the compare's mask, with no
 * round trip through a GPR on the state's path. The word mask (even words of the lanes
 * below ZW_L: x >> 15 is 0 there, and below 2^16 everywhere) lets the expand write each
 * word into the low half of the already shifted state, with no widening step. */
#define RENORM_AVX512(v)                                                                  \
    do {                                                                                  \
        __mmask8 need = _mm256_cmplt_epu32_mask(x[v], Lv);                                \
        __m256i t_ = _mm256_srli_epi32(x[v], 15);                                         \
        __mmask16 nw = _mm256_mask_testn_epi16_mask(0x5555, t_, t_);                      \
        __m256i y_ = _mm256_mask_slli_epi32(x[v], need, x[v], 16);                        \
        x[v] = _mm256_mask_expand_epi16(y_, nw,                                           \
                   _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)));          \
        p += 2 * _mm_popcnt_u32((unsigned)need);                                          \
    } while (0)
DEFINE_RDEC_BLOCK(zw_rdec_block_avx512, T5, RENORM_AVX512, ASM_BLEND)

#include "transpose16.h"

typedef struct {
    __m256i shuf, mul;
    __m128i down;
    int w;
} restctx;

/* Raw fields of 16 values: the 8 fields of each half (w bytes) are loaded into one 128-bit
 * half; each 16-bit lane gets the 2 bytes holding its field (shift + w <= 16 for every
 * w <= 10), a multiply by 2^(16 - w - shift) moves the field to the top, a uniform right
 * shift brings it down. */
T static inline restctx rest_init(int w)
{
    restctx rc;
    uint8_t sh[32];
    uint16_t mu[16];
    int k;
    for (k = 0; k < 16; k++) {
        int bit = (k & 7) * w;
        sh[2 * k] = (uint8_t)(bit >> 3);
        sh[2 * k + 1] = (uint8_t)((bit >> 3) + 1);
        mu[k] = (uint16_t)(1u << (16 - w - (bit & 7)));
    }
    rc.shuf = _mm256_loadu_si256((const __m256i *)sh);
    rc.mul = _mm256_loadu_si256((const __m256i *)mu);
    rc.down = _mm_cvtsi32_si128(16 - w);
    rc.w = w;
    return rc;
}

/* the 16 raw fields of values j..j+15 (j a multiple of 8) as 16 u16 */
T static inline __m256i rest16(const restctx *rc, const uint8_t *rest, size_t j)
{
    size_t off = (j >> 3) * (size_t)rc->w;
    __m256i b = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(rest + off))),
        _mm_loadu_si128((const __m128i *)(rest + off + rc->w)), 1);
    return _mm256_srl_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(b, rc->shuf), rc->mul),
                            rc->down);
}

/* step-major tmp (S x 32, S a multiple of 16) -> lane-major lb[l][s]. The merges then
 * write each lane's S values as one contiguous run: the 32 lanes' outputs are seg values
 * apart, often a multiple of 4 KiB, so writing all lanes a step group at a time would
 * map them to the same L1 sets and evict lines before they are complete. */
T static inline void to_lanes(const uint16_t *tmp, int S, uint16_t (*lb)[ZW_BLK])
{
    __m256i r[16];
    int g, s0, k;
    for (s0 = 0; s0 < S; s0 += 16)
        for (g = 0; g < ZW_LANES / 16; g++) {
            for (k = 0; k < 16; k++)
                r[k] = _mm256_loadu_si256((const __m256i *)(tmp + (s0 + k) * ZW_LANES + 16 * g));
            transpose16(r);
            for (k = 0; k < 16; k++) _mm256_store_si256((__m256i *)(lb[16 * g + k] + s0), r[k]);
        }
}

/* the top 16 bits of each value (decoded symbol << w | raw field), merged lane by lane;
 * F32 (p1, p0 given) interleaves them with its two low byte planes. Inlined into both
 * entry points, so the test on p1 is resolved at compile time. */
T static inline void merge_hi(const uint16_t *tmp, int S, size_t seg, size_t i0,
                              const uint8_t *rest, int w, const uint8_t *p1, const uint8_t *p0,
                              uint8_t *dst)
{
    restctx rc = rest_init(w);
    __m128i wc = _mm_cvtsi32_si128(w);
    _Alignas(32) uint16_t lb[ZW_LANES][ZW_BLK];
    int l, s0;
    to_lanes(tmp, S, lb);
    for (l = 0; l < ZW_LANES; l++) {
        size_t j0 = (size_t)l * seg + i0;
        for (s0 = 0; s0 < S; s0 += 16) {
            size_t j = j0 + (size_t)s0;
            __m256i hi = _mm256_or_si256(
                _mm256_sll_epi16(_mm256_load_si256((const __m256i *)(lb[l] + s0)), wc),
                rest16(&rc, rest, j));
            if (!p1) {
                _mm256_storeu_si256((__m256i *)(dst + 2 * j), hi);
                continue;
            }
            __m256i lo = _mm256_or_si256(
                _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p0 + j))),
                _mm256_slli_epi16(
                    _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p1 + j))), 8));
            __m256i a = _mm256_unpacklo_epi16(lo, hi), b = _mm256_unpackhi_epi16(lo, hi);
            _mm256_storeu_si256((__m256i *)(dst + 4 * j), _mm256_permute2x128_si256(a, b, 0x20));
            _mm256_storeu_si256((__m256i *)(dst + 4 * j + 32),
                                _mm256_permute2x128_si256(a, b, 0x31));
        }
    }
}

T void zw_merge16_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, const uint8_t *rest,
                       int w, uint8_t *dst)
{
    merge_hi(tmp, S, seg, i0, rest, w, NULL, NULL, dst);
}

T void zw_merge32_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, const uint8_t *rest,
                       int w, const uint8_t *p1, const uint8_t *p0, uint8_t *dst)
{
    merge_hi(tmp, S, seg, i0, rest, w, p1, p0, dst);
}

/* the same lane walk as merge_hi on purpose: bytes need no raw bits and no widening, and
 * folding them into merge_hi would put a branch in its inner loop */
T void zw_merge8_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, uint8_t *dst)
{
    _Alignas(32) uint16_t lb[ZW_LANES][ZW_BLK];
    int l, s0;
    to_lanes(tmp, S, lb);
    for (l = 0; l < ZW_LANES; l++) {
        size_t j0 = (size_t)l * seg + i0;
        for (s0 = 0; s0 < S; s0 += 16) {
            __m256i r = _mm256_load_si256((const __m256i *)(lb[l] + s0));
            __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
            _mm_storeu_si128((__m128i *)(dst + j0 + (size_t)s0), b);
        }
    }
}


/* Scatter packed 16-bit values by bitmap bytes: for byte b, a shuffle puts the next
 * popcount(b) values at the set bits' positions and zeros elsewhere. The caller makes
 * sure 16 bytes can be read at vals for every byte (nbytes * 8 values available). */
static uint8_t MERGE16[256][16];

static void merge16_init(void) /* from zw_cpu_init, at module import */
{
    int b, j, k;
    for (b = 0; b < 256; b++)
        for (j = 0, k = 0; j < 8; j++) {
            if ((b >> j) & 1) {
                MERGE16[b][2 * j] = (uint8_t)(2 * k);
                MERGE16[b][2 * j + 1] = (uint8_t)(2 * k + 1);
                k++;
            } else
                MERGE16[b][2 * j] = MERGE16[b][2 * j + 1] = 0x80;
        }
}

T size_t zw_sparse_merge16_avx2(const uint8_t *bitmap, size_t nbytes, const uint8_t *vals,
                                uint8_t *out)
{
    size_t i, k = 0;
    for (i = 0; i < nbytes; i++) {
        unsigned b = bitmap[i];
        __m128i v = _mm_loadu_si128((const __m128i *)(vals + 2 * k));
        v = _mm_shuffle_epi8(v, _mm_loadu_si128((const __m128i *)MERGE16[b]));
        _mm_storeu_si128((__m128i *)(out + 16 * i), v);
        k += (size_t)_mm_popcnt_u32(b);
    }
    return k;
}

#else /* no x86: scalar paths only. zw_have_avx2() is 0, so no caller reaches the SIMD
       * entry points below: each aborts alike, as unreachable code should. */
void zw_cpu_init(void) {}
int zw_cpu_set(int level)
{
    (void)level;
    return 0;
}
int zw_have_avx2(void) { return 0; }
int zw_have_avx512(void) { return 0; }
int zw_fast_pext(void) { return 0; }
void zw_rdec_block_avx512(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out)
{
    (void)d, (void)t, (void)S, (void)ctx, (void)out;
    abort();
}
void zw_rdec_block_avx2(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out)
{
    (void)d, (void)t, (void)S, (void)ctx, (void)out;
    abort();
}
void zw_merge16_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, const uint8_t *rest,
                     int w, uint8_t *dst)
{
    (void)tmp, (void)S, (void)seg, (void)i0, (void)rest, (void)w, (void)dst;
    abort();
}
void zw_merge32_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, const uint8_t *rest,
                     int w, const uint8_t *p1, const uint8_t *p0, uint8_t *dst)
{
    (void)tmp, (void)S, (void)seg, (void)i0, (void)rest, (void)w, (void)p1, (void)p0, (void)dst;
    abort();
}
void zw_merge8_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, uint8_t *dst)
{
    (void)tmp, (void)S, (void)seg, (void)i0, (void)dst;
    abort();
}
size_t zw_sparse_merge16_avx2(const uint8_t *bitmap, size_t nbytes, const uint8_t *vals,
                              uint8_t *out)
{
    (void)bitmap, (void)nbytes, (void)vals, (void)out;
    abort();
}
#endif
