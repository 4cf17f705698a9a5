/* Shared helpers of the libFuzzer targets in tests/fuzz/ (see README.md there).
 *
 * Each target is one C file defining LLVMFuzzerTestOneInput; it is built either with
 * clang -fsanitize=fuzzer,address,undefined (the fuzzing binaries) or with gcc and
 * replay_main.c (the replay driver of tests/fuzz/test_fuzz_replay.py). A finding is a
 * sanitizer report or an abort: targets call ZWF_CHECK on every property they assert. */
#ifndef ZWFUZZ_H
#define ZWFUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planes.h"
#include "zw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ZWF_CHECK(cond, ...)                                                              \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "zwfuzz: check failed at %s:%d: %s: ", __FILE__, __LINE__,  \
                    #cond);                                                               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* zw_cpu_init once per process (the Python module does it at import) */
static inline void zwf_init(void)
{
    static int done;
    if (!done) {
        zw_cpu_init();
        done = 1;
    }
}

/* an exact-size heap copy, so that ASan flags any read past the end */
static inline uint8_t *zwf_dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    ZWF_CHECK(q != NULL, "out of memory (%zu bytes)", n);
    if (n) memcpy(q, p, n);
    return q;
}

static inline void *zwf_alloc(size_t n)
{
    void *q = malloc(n ? n : 1);
    ZWF_CHECK(q != NULL, "out of memory (%zu bytes)", n);
    return q;
}

/* ---- a small PRNG (xorshift64), seeded from the input, for data the targets synthesize ---- */
static uint64_t zwf_rs;
static inline void zwf_seed(uint32_t seed) { zwf_rs = ((uint64_t)seed << 1) | 1; }
static inline uint32_t zwf_rnd(void)
{
    zwf_rs ^= zwf_rs << 13;
    zwf_rs ^= zwf_rs >> 7;
    zwf_rs ^= zwf_rs << 17;
    return (uint32_t)(zwf_rs >> 11);
}

/* ---- reading the fuzzer's bytes as a stream of choices (zeros once exhausted) ---- */
typedef struct {
    const uint8_t *p;
    size_t n, pos;
} zwf_in;

static inline uint32_t zwf_u8(zwf_in *in) { return in->pos < in->n ? in->p[in->pos++] : 0; }
static inline uint32_t zwf_u16(zwf_in *in) { return zwf_u8(in) | (zwf_u8(in) << 8); }
static inline uint32_t zwf_u32(zwf_in *in) { return zwf_u16(in) | (zwf_u16(in) << 16); }
static inline size_t zwf_left(const zwf_in *in) { return in->n - in->pos; }
/* a value in [lo, hi] */
static inline int zwf_range(zwf_in *in, int lo, int hi)
{
    uint32_t span = (uint32_t)(hi - lo) + 1, v = span > 256 ? zwf_u16(in) : zwf_u8(in);
    return lo + (int)(v % span);
}

/* ---- the SIMD paths: csrc/avx2.c probes the CPU once; zw_cpu_set picks a path ---- */
typedef enum { ZWF_PATH_ENV, ZWF_PATH_AVX2, ZWF_PATH_SCALAR } zwf_path;

/* the decoder paths other than the current one (the environment's choice at start:
 * ZW_NO_SIMD / ZW_NO_AVX512) that this machine has; differential checks decode again on
 * each and compare */
static inline int zwf_other_paths(zwf_path *out)
{
    int k = 0;
    if (!zw_have_avx2()) return 0;  /* already scalar (no AVX2, or ZW_NO_SIMD=1) */
    if (zw_have_avx512()) out[k++] = ZWF_PATH_AVX2;
    out[k++] = ZWF_PATH_SCALAR;
    return k;
}

typedef struct {
    int level;
} zwf_envsave;

static inline zwf_envsave zwf_path_enter(zwf_path p)
{
    zwf_envsave s = {zw_have_avx512() ? 2 : zw_have_avx2()};
    if (p == ZWF_PATH_AVX2) zw_cpu_set(1);
    if (p == ZWF_PATH_SCALAR) zw_cpu_set(0);
    return s;
}

static inline void zwf_path_leave(zwf_envsave s) { zw_cpu_set(s.level); }

/* ---- an LSB-first bit writer of our own (spec/CODERS.md 1.1), independent of rans.c ---- */
typedef struct {
    uint8_t *buf;
    size_t cap;
    uint64_t bits;
} zwf_bits;

static inline void zwf_put(zwf_bits *w, uint32_t v, int nb)
{
    int i;
    for (i = 0; i < nb; i++, w->bits++) {
        size_t byte = (size_t)(w->bits >> 3);
        ZWF_CHECK(byte < w->cap, "bit writer overflow");
        if ((w->bits & 7) == 0) w->buf[byte] = 0;
        w->buf[byte] |= (uint8_t)(((v >> i) & 1) << (w->bits & 7));
    }
}

static inline void zwf_gamma(zwf_bits *w, uint32_t v) /* v >= 1 */
{
    int nb = 0;
    while ((v >> nb) > 1) nb++;
    zwf_put(w, 0, nb);
    zwf_put(w, 1, 1);
    zwf_put(w, v, nb);
}

static inline uint32_t zwf_zigzag(int d) { return d >= 0 ? (uint32_t)d * 2 : (uint32_t)(-d) * 2 - 1; }

/* one serialized table: nused (B+1 bits) then per symbol gamma(gap), q (spec 1.2) */
static inline void zwf_put_table(zwf_bits *w, int B, const uint16_t *sym, const uint8_t *q, int m,
                                 uint32_t nused_field)
{
    int i, prev = -1, pq = 0;
    zwf_put(w, nused_field, B + 1);
    for (i = 0; i < m; i++) {
        zwf_gamma(w, (uint32_t)(sym[i] - prev));
        if (i == 0)
            zwf_put(w, q[i], 8);
        else
            zwf_gamma(w, zwf_zigzag((int)q[i] - pq) + 1);
        prev = sym[i];
        pq = q[i];
    }
}

/* spec 1.2 normalization, written from the spec (a cross-check of zw_normalize_list) */
static inline uint32_t zwf_weight(int q) { return q < 32 ? (uint32_t)q : (uint32_t)(16 + (q - 32) % 16) << (1 + (q - 32) / 16); }

static inline void zwf_normalize(const uint8_t *q, int m, uint32_t *f, int P)
{
    uint64_t M = (uint64_t)1 << P, W = 0, S = 0, wmax = 0;
    int i, imax = 0;
    for (i = 0; i < m; i++) {
        uint64_t w = zwf_weight(q[i]);
        W += w;
        if (w > wmax) wmax = w, imax = i;
    }
    for (i = 0; i < m; i++) {
        uint64_t v = zwf_weight(q[i]) * M / W;
        f[i] = (uint32_t)(v < 1 ? 1 : v);
        S += f[i];
    }
    if (S < M) f[imax] += (uint32_t)(M - S);
    if (S > M) {
        uint64_t E = S - M, D = 0;
        for (i = 0; i < m; i++) D += f[i] - 1;
        S = 0;
        for (i = 0; i < m; i++) {
            f[i] -= (uint32_t)((uint64_t)(f[i] - 1) * E / D);
            S += f[i];
        }
        while (S > M)
            for (i = 0; i < m && S > M; i++)
                if (f[i] > 1) f[i]--, S--;
    }
}
#endif
