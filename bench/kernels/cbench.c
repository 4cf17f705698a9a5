/* Standalone timing harness: cbench FILE KIND LEVEL [REPS]
 * build: gcc -O3 -std=c11 -Icsrc bench/kernels/cbench.c csrc/rans.c csrc/ent.c csrc/floatc.c csrc/floatd.c -o /tmp/cbench */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "zw.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv)
{
    zw_cpu_init();
    FILE *f = fopen(argv[1], "rb");
    int kind = atoi(argv[2]), level = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 50, i;
    int ereps = argc > 5 ? atoi(argv[5]) : reps;
    size_t n, len;
    uint8_t *src, *out, *dst;
    double t[1000];
    zw_err e;
    fseek(f, 0, SEEK_END); n = (size_t)ftell(f); fseek(f, 0, SEEK_SET);
    src = malloc(n); dst = malloc(n); out = malloc(zw_float_bound(n));
    if (fread(src, 1, n, f) != n) return 1;
    for (i = 0; i < ereps && i < 1000; i++) { double t0 = now(); len = zw_float_encode(src, n, kind, level, out, &e); t[i] = now() - t0; }
    qsort(t, (size_t)(ereps < 1000 ? ereps : 1000), sizeof *t, cmpd);
    printf("ratio %.4f B=%d C=%d enc %.0f MB/s", (double)len / n, out[6], out[7], n / t[ereps / 2] / 1e6);
    for (i = 0; i < reps && i < 1000; i++) { double t0 = now(); if (zw_float_decode(out, len, kind, dst, n, &e)) { printf("ERR %s\n", e.msg); return 1; } t[i] = now() - t0; }
    qsort(t, (size_t)(reps < 1000 ? reps : 1000), sizeof *t, cmpd);
    printf("  dec %.0f MB/s (best %.0f)  %s\n", n / t[reps / 2] / 1e6, n / t[0] / 1e6, memcmp(src, dst, n) ? "MISMATCH" : "ok");
    return 0;
}
