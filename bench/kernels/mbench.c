/* Whole-model C harness (no Python overhead; for same-run A/B of two builds):
 *   mbench FILE.chunks KIND LEVEL REPS -> whole-model ratio, best-of-REPS decode/encode MB/s
 *   (process CPU time). FILE.chunks = records (u32 LE length, chunk bytes), e.g. from
 *   python -c "import sys,struct; sys.path.insert(0,'bench/kernels'); from models import tensors
 *   f=open('/tmp/minilm_bf16.chunks','wb'); [f.write(struct.pack('<I',len(b[s:s+2097152]))+b[s:s+2097152])
 *    for _,b in tensors('minilm','bf16') for s in range(0,len(b),2097152)]"
 * build: gcc -O3 -std=c11 -Icsrc bench/kernels/mbench.c csrc/rans.c csrc/ent.c csrc/floatc.c csrc/floatd.c csrc/avx2.c -o /tmp/mbench */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "zw.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
/* mbench FILE.chunks KIND LEVEL REPS : whole-model ratio, best-of-REPS enc/dec MB/s */
int main(int argc, char **argv)
{
    zw_cpu_init();
    FILE *f = fopen(argv[1], "rb");
    int kind = atoi(argv[2]), level = atoi(argv[3]), reps = atoi(argv[4]), r;
    size_t nc = 0, i, raw = 0, comp = 0;
    uint8_t *all; size_t len; zw_err e;
    fseek(f, 0, SEEK_END); len = (size_t)ftell(f); fseek(f, 0, SEEK_SET);
    all = malloc(len); if (fread(all, 1, len, f) != len) return 1;
    uint8_t **src = malloc(sizeof(void*) * 100000), **pay = malloc(sizeof(void*) * 100000), *dst = malloc(1 << 23);
    size_t *sl = malloc(8 * 100000), *pl = malloc(8 * 100000);
    for (i = 0; i < len;) { uint32_t n; memcpy(&n, all + i, 4); src[nc] = all + i + 4; sl[nc] = n; pay[nc] = malloc(zw_float_bound(n)); nc++; i += 4 + n; raw += n; }
    double be = 1e9, bd = 1e9;
    for (r = 0; r < reps; r++) {
        double t0 = now(); comp = 0;
        for (i = 0; i < nc; i++) { pl[i] = zw_float_encode(src[i], sl[i], kind, level, pay[i], &e); comp += pl[i]; }
        double t1 = now();
        for (i = 0; i < nc; i++) if (zw_float_decode(pay[i], pl[i], kind, dst, sl[i], &e)) { printf("ERR %s\n", e.msg); return 1; }
        double t2 = now();
        if (t1 - t0 < be) be = t1 - t0;
        if (t2 - t1 < bd) bd = t2 - t1;
    }
    printf("ratio %.5f dec %.0f enc %.0f MB/s\n", (double)comp / raw, raw / bd / 1e6, raw / be / 1e6);
    if (!getenv("NOMERGE")) for (i = 0; i < nc; i++) { zw_float_decode(pay[i], pl[i], kind, dst, sl[i], &e); if (memcmp(dst, src[i], sl[i])) { printf("MISMATCH chunk %zu\n", i); return 1; } }
    return 0;
}
