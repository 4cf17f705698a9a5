/* Corruption fuzzer for the decoders, meant to run under ASan/UBSan:
 * gcc -O1 -g -fsanitize=address,undefined -std=c11 -Icsrc bench/kernels/fuzz.c csrc/rans.c csrc/ent.c \
 *     csrc/floatc.c csrc/avx2.c csrc/scratch.c csrc/sparse.c -o /tmp/fuzz && /tmp/fuzz
 * (ZW_NO_SIMD=1 /tmp/fuzz for the portable paths) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zw.h"
static uint64_t s = 88172645463325252ull;
static uint64_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static void attack(const uint8_t *p, size_t len, int kind, size_t nbytes, long *ok, long *bad)
{
    uint8_t *b = malloc(len + 1), *dst = malloc(nbytes + 1);
    zw_err e;
    size_t cut, i;
    for (cut = 0; cut <= len; cut++) {
        uint8_t *t = malloc(cut ? cut : 1); /* exact-size buffer so ASan sees overreads */
        memcpy(t, p, cut);
        int rc = kind < 0 ? zw_ent_decode(t, cut, dst, nbytes, &e) : zw_float_decode(t, cut, kind, dst, nbytes, &e);
        if (rc == 0 && cut < len) printf("truncation %zu decoded!\n", cut);
        free(t);
    }
    for (i = 0; i < 3000; i++) {
        uint8_t *t = malloc(len);
        memcpy(t, p, len);
        int k, nf = 1 + (int)(rnd() % 3);
        for (k = 0; k < nf; k++) { size_t bit = rnd() % (len * 8); t[bit >> 3] ^= (uint8_t)(1u << (bit & 7)); }
        int rc = kind < 0 ? zw_ent_decode(t, len, dst, nbytes, &e) : zw_float_decode(t, len, kind, dst, nbytes, &e);
        if (rc) (*bad)++; else (*ok)++;
        free(t);
    }
    free(b); free(dst);
}
int main(void)
{
    zw_cpu_init();
    int kind;
    long ok = 0, bad = 0;
    for (int run = 0; run < 7; run++) {
        /* kinds -1 (ent), 0, 1, 2; then 0, 1, 2 again with signs in runs (float mode 2) */
        int signruns = run >= 4, neg = 0;
        kind = run < 4 ? run - 1 : run - 4;
        size_t n = kind < 0 ? 5000 : 3000, isz = kind == 2 ? 4 : 2, nbytes = kind < 0 ? n : n * isz, i;
        uint8_t *src = malloc(nbytes), *out = malloc(zw_float_bound(nbytes) + zw_ent_bound(nbytes));
        zw_err e;
        for (i = 0; i < n; i++) {
            double g = 0; int k; for (k = 0; k < 6; k++) g += (double)(rnd() % 1000) / 1000.0 - 0.5;
            if (signruns) { if (rnd() % 10 == 0) neg = !neg; g = (g < 0 ? -g : g) * (neg ? -1 : 1); }
            if (kind < 0) src[i] = (uint8_t)(g * 8 + 128);
            else if (kind == 2) { float f = (float)(g * 0.05); memcpy(src + 4 * i, &f, 4); }
            else { float f = (float)(g * 0.05); uint32_t u; memcpy(&u, &f, 4);
                   uint16_t h = kind == 0 ? (uint16_t)(u >> 16) : (uint16_t)(0x2000 | (rnd() & 0x1fff)); memcpy(src + 2 * i, &h, 2); }
        }
        size_t len = kind < 0 ? zw_ent_encode(src, n, out) : zw_float_encode(src, nbytes, kind, 1, out, &e);
        ok = bad = 0;
        attack(out, len, kind, nbytes, &ok, &bad);
        printf("kind %d: payload %zu bytes (mode %d), flips: %ld rejected, %ld decoded\n", kind, len, kind < 0 ? out[0] : out[1], bad, ok);
        free(src); free(out);
    }
    /* sparse merge: bitmaps and value counts that agree or not, exact-size buffers */
    for (int r = 0; r < 20000; r++) {
        int units[4] = {1, 2, 4, 8}, unit = units[rnd() % 4];
        size_t m = rnd() % 300, blen = (m + 7) / 8 + (rnd() % 8 == 0), nnz = rnd() % (m + 2), i;
        uint8_t *bm = malloc(blen + 1), *vals = malloc(nnz * unit + 1), *out = malloc(m * unit + 1);
        zw_err e;
        for (i = 0; i < blen; i++) bm[i] = (uint8_t)rnd();
        if (r % 2) { /* a consistent pair: split of random data */
            uint8_t *src = malloc(m * unit + 1), *v2 = malloc(m * unit + 1);
            for (i = 0; i < m * unit; i++) src[i] = rnd() % 3 ? 0 : (uint8_t)rnd();
            nnz = zw_sparse_split(src, m, unit, bm, v2);
            blen = (m + 7) / 8;
            if (zw_sparse_merge(bm, blen, v2, nnz, unit, out, m, &e) || memcmp(out, src, m * unit))
                printf("sparse round trip failed (m %zu unit %d)\n", m, unit);
            free(src); free(v2);
        } else
            zw_sparse_merge(bm, blen, vals, nnz, unit, out, m, &e);
        free(bm); free(vals); free(out);
    }
    printf("sparse done\n");
    /* random junk */
    for (int r = 0; r < 20000; r++) {
        size_t len = rnd() % 600, i; uint8_t *t = malloc(len + 1), dst[4096]; zw_err e;
        for (i = 0; i < len; i++) t[i] = (uint8_t)rnd();
        if (len > 1 && r % 2) { t[0] = (uint8_t)(rnd() % 3); t[1] = (uint8_t)(rnd() % 3); }
        int kind = (int)(rnd() % 4) - 1;
        size_t nb = (rnd() % 1024) * 4;
        if (kind < 0) zw_ent_decode(t, len, dst, nb, &e); else zw_float_decode(t, len, kind, dst, nb, &e);
        free(t);
    }
    printf("junk done\n");
    return 0;
}
