/* Decode-only harness for the float decoder (csrc/floatd.c): encodes a chunk dump once,
 * then decodes the whole model REPS times into one warm buffer and prints the median and
 * best MB/s of output (thread CPU time, so a busy neighbour on the shared cores costs
 * less than in wall time), and checks every chunk byte for byte.
 *   dbench FILE.chunks KIND LEVEL REPS [SIMD]
 * FILE.chunks: records (u32 LE length, chunk bytes), as for mbench.c; KIND 0 BF16, 1 F16,
 * 2 F32; SIMD: the zw_cpu_set level (default: the CPU's).
 * build (from the repository root; for an A/B build a second tree the same way and
 * alternate the two binaries):
 *   gcc -O3 -std=c11 -Icsrc bench/kernels/dbench.c csrc/rans.c csrc/ent.c csrc/floatc.c \
 *       csrc/floatd.c csrc/avx2.c csrc/avx2_enc.c csrc/delta.c csrc/delta_avx2.c \
 *       csrc/scratch.c csrc/planes.c csrc/sparse.c -lpthread -o /tmp/dbench */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zw.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    FILE *f;
    int kind, level, reps, r;
    size_t nc = 0, cap = 1024, i, raw = 0, comp = 0, len, maxc = 0;
    uint8_t *all, **src, **pay, *dst;
    size_t *sl, *pl;
    double *ts;
    zw_err e;
    if (argc < 5) {
        fprintf(stderr, "usage: dbench FILE.chunks KIND LEVEL REPS [SIMD]\n");
        return 2;
    }
    zw_cpu_init();
    if (argc > 5) zw_cpu_set(atoi(argv[5]));
    f = fopen(argv[1], "rb");
    if (!f) return 2;
    kind = atoi(argv[2]), level = atoi(argv[3]), reps = atoi(argv[4]);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    all = malloc(len);
    if (fread(all, 1, len, f) != len) return 2;
    src = malloc(sizeof *src * cap), pay = malloc(sizeof *pay * cap);
    sl = malloc(sizeof *sl * cap), pl = malloc(sizeof *pl * cap);
    for (i = 0; i + 4 <= len;) {
        uint32_t n;
        memcpy(&n, all + i, 4);
        if (nc == cap) {
            cap *= 2;
            src = realloc(src, sizeof *src * cap), pay = realloc(pay, sizeof *pay * cap);
            sl = realloc(sl, sizeof *sl * cap), pl = realloc(pl, sizeof *pl * cap);
        }
        src[nc] = all + i + 4;
        sl[nc] = n;
        pay[nc] = malloc(zw_float_bound(n));
        pl[nc] = zw_float_encode(src[nc], n, kind, level, pay[nc], &e);
        if (pl[nc] == (size_t)-1) {
            printf("ENCODE ERR %s\n", e.msg);
            return 1;
        }
        comp += pl[nc];
        raw += n;
        if (n > maxc) maxc = n;
        nc++;
        i += 4 + n;
    }
    dst = malloc(maxc);
    memset(dst, 1, maxc);
    for (i = 0; i < nc; i++) {
        if (zw_float_decode(pay[i], pl[i], kind, dst, sl[i], &e)) {
            printf("ERR chunk %zu: %s\n", i, e.msg);
            return 1;
        }
        if (memcmp(dst, src[i], sl[i])) {
            printf("MISMATCH chunk %zu\n", i);
            return 1;
        }
    }
    ts = malloc(sizeof *ts * (size_t)reps);
    for (r = 0; r < reps; r++) {
        double t0 = now();
        for (i = 0; i < nc; i++) zw_float_decode(pay[i], pl[i], kind, dst, sl[i], &e);
        ts[r] = now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmpd);
    printf("%s kind %d level %d simd %d ratio %.5f dec median %.0f best %.0f MB/s\n", argv[1], kind,
           level, zw_have_avx512() ? 2 : zw_have_avx2(), (double)comp / raw, raw / ts[reps / 2] / 1e6,
           raw / ts[0] / 1e6);
    return 0;
}
