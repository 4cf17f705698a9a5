/* Prototype, not part of the codec: how fast could a context Huffman decoder be here?
 * Codes the bf16 exponent byte of each value with one length-limited Huffman code per
 * context (the previous value's exponent, in C quantile groups), the sign + 7 mantissa
 * bits raw, over LANES interleaved bit streams, and times decode + merge against the size
 * it reaches. Compare with mbench's numbers for the rANS float payload on the same dump.
 *   gcc -O3 -std=c11 bench/kernels/huffproto.c -lm -o /tmp/huffproto
 *   /tmp/huffproto /tmp/craft_bf16.chunks [C] [REPS]     (dump: see mbench.c) */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LANES 16
#define MAXL 11
#define TSIZE (1 << MAXL)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* code lengths <= MAXL for counts cnt[0..256) (0 = unused): Huffman by repeated minimum
 * merging, counts flattened (halved, kept >= 1) until the longest code fits */
static void lengths(const uint32_t *cnt0, uint8_t *len)
{
    uint64_t cnt[256];
    int s, m = 0;
    for (s = 0; s < 256; s++) cnt[s] = cnt0[s], len[s] = 0, m += cnt0[s] != 0;
    if (m == 1) {
        for (s = 0; s < 256; s++)
            if (cnt[s]) len[s] = 1;
        return;
    }
    for (;;) {
        uint64_t w[512];
        int parent[512], alive[512], nn = 0, i, maxl = 0;
        int leaf[256];
        for (s = 0; s < 256; s++)
            if (cnt[s]) leaf[s] = nn, w[nn] = cnt[s], alive[nn] = 1, parent[nn++] = -1;
        for (;;) {
            int a = -1, b = -1;
            for (i = 0; i < nn; i++)
                if (alive[i]) {
                    if (a < 0 || w[i] < w[a]) b = a, a = i;
                    else if (b < 0 || w[i] < w[b]) b = i;
                }
            if (b < 0) break;
            alive[a] = alive[b] = 0;
            w[nn] = w[a] + w[b];
            alive[nn] = 1;
            parent[nn] = -1;
            parent[a] = parent[b] = nn++;
        }
        for (s = 0; s < 256; s++)
            if (cnt[s]) {
                int d = 0, k = leaf[s];
                while (parent[k] >= 0) k = parent[k], d++;
                len[s] = (uint8_t)d;
                if (d > maxl) maxl = d;
            }
        if (maxl <= MAXL) return;
        for (s = 0; s < 256; s++)
            if (cnt[s]) cnt[s] = (cnt[s] >> 1) | 1;
    }
}

/* canonical codes, bit-reversed for an LSB-first reader */
static void codes(const uint8_t *len, uint32_t *code)
{
    int l, s;
    uint32_t c = 0;
    for (l = 1; l <= MAXL; l++) {
        for (s = 0; s < 256; s++)
            if (len[s] == l) {
                uint32_t r = 0, k;
                for (k = 0; k < (uint32_t)l; k++) r |= ((c >> k) & 1) << (l - 1 - k);
                code[s] = r;
                c++;
            }
        c <<= 1;
    }
}

typedef struct {
    uint8_t *buf;
    size_t pos;
    uint64_t acc;
    int n;
} bw;
static void put(bw *w, uint32_t v, int nb)
{
    w->acc |= (uint64_t)v << w->n;
    w->n += nb;
    while (w->n >= 8) w->buf[w->pos++] = (uint8_t)w->acc, w->acc >>= 8, w->n -= 8;
}

int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    int C = argc > 2 ? atoi(argv[2]) : 8, reps = argc > 3 ? atoi(argv[3]) : 5, r;
    size_t len, i, nc = 0, raw = 0, comp = 0;
    uint8_t *all;
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    all = malloc(len);
    if (fread(all, 1, len, f) != len) return 1;
    uint8_t **src = malloc(sizeof(void *) * 100000);
    size_t *sl = malloc(8 * 100000);
    for (i = 0; i < len;) {
        uint32_t n;
        memcpy(&n, all + i, 4);
        src[nc] = all + i + 4;
        sl[nc++] = n;
        i += 4 + n;
    }
    /* encode every chunk: per chunk C code tables; lane l codes values l*seg.. */
    typedef struct {
        size_t n, seg;
        uint8_t ctxof[256];
        uint32_t *tab; /* C x TSIZE entries: sym | len << 8 | nextctx*TSIZE << 12 */
        uint8_t *stream[LANES];
        uint8_t *rawb;
    } enc_t;
    enc_t *E = calloc(nc, sizeof *E);
    double ent_bits = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t n = sl[c] / 2, seg = n / LANES, j;
        const uint16_t *v = (const uint16_t *)src[c];
        uint32_t ecnt[256] = {0}, (*cnt)[256] = calloc((size_t)C, sizeof *cnt);
        uint8_t (*ln)[256] = calloc((size_t)C, sizeof *ln);
        uint32_t (*cd)[256] = calloc((size_t)C, sizeof *cd);
        int k, l;
        if (n % LANES || n < 1024) { /* prototype: whole lanes only */
            E[c].n = 0;
            continue;
        }
        E[c].n = n;
        E[c].seg = seg;
        raw += 2 * n;
        for (j = 0; j < n; j++) ecnt[(v[j] >> 7) & 0xff]++;
        { /* quantile groups of the exponent */
            uint64_t cum = 0;
            int g = 0;
            for (k = 0; k < 256; k++) {
                E[c].ctxof[k] = (uint8_t)g;
                cum += ecnt[k];
                while (g < C - 1 && cum * C >= (uint64_t)(g + 1) * n) g++;
            }
        }
        for (l = 0; l < LANES; l++)
            for (j = 0; j < seg; j++) {
                size_t q = (size_t)l * seg + j;
                int ctx = j ? E[c].ctxof[(v[q - 1] >> 7) & 0xff] : 0;
                cnt[ctx][(v[q] >> 7) & 0xff]++;
            }
        E[c].tab = calloc((size_t)C * TSIZE, 4);
        for (k = 0; k < C; k++) {
            uint32_t tot = 0;
            int s;
            for (s = 0; s < 256; s++) tot += cnt[k][s];
            if (!tot) continue;
            for (s = 0; s < 256; s++)
                if (cnt[k][s]) ent_bits -= cnt[k][s] * __builtin_log2((double)cnt[k][s] / tot);
            lengths(cnt[k], ln[k]);
            codes(ln[k], cd[k]);
            for (s = 0; s < 256; s++)
                if (ln[k][s]) {
                    uint32_t e = (uint32_t)s | (uint32_t)ln[k][s] << 8 |
                                 (uint32_t)E[c].ctxof[s] * TSIZE << 12,
                             x;
                    for (x = cd[k][s]; x < TSIZE; x += 1u << ln[k][s]) E[c].tab[k * TSIZE + x] = e;
                }
            comp += 256 * 4 / 8; /* ~4 bits per symbol of table description */
        }
        E[c].rawb = malloc(n);
        for (j = 0; j < n; j++) E[c].rawb[j] = (uint8_t)((v[j] & 0x7f) | ((v[j] >> 8) & 0x80));
        comp += n;
        for (l = 0; l < LANES; l++) {
            bw w = {malloc(2 * seg + 64), 0, 0, 0};
            for (j = 0; j < seg; j++) {
                size_t q = (size_t)l * seg + j;
                int ctx = j ? E[c].ctxof[(v[q - 1] >> 7) & 0xff] : 0, s = (v[q] >> 7) & 0xff;
                put(&w, cd[ctx][s], ln[ctx][s]);
            }
            put(&w, 0, 64);
            E[c].stream[l] = w.buf;
            comp += w.pos - 8;
        }
        free(cnt), free(ln), free(cd);
    }
    printf("lanes %d C %d: ratio %.5f (exponent at its context entropy: %.5f)\n", LANES, C,
           (double)comp / raw, (ent_bits / 8 + (double)raw / 2) / raw);
    uint16_t *dst = malloc(1 << 22);
    double best = 1e9;
    for (r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t c = 0; c < nc; c++) {
            size_t seg = E[c].seg, j;
            const uint32_t *tab = E[c].tab;
            const uint8_t *rb = E[c].rawb;
            uint64_t acc[LANES];
            int cntb[LANES], l;
            const uint8_t *p[LANES];
            uint32_t base[LANES];
            if (!E[c].n) continue;
            for (l = 0; l < LANES; l++) {
                p[l] = E[c].stream[l];
                memcpy(&acc[l], p[l], 8);
                p[l] += 8;
                cntb[l] = 64;
                base[l] = 0;
            }
#ifdef BRANCHY
            for (j = 0; j < seg; j++)
                for (l = 0; l < LANES; l++) {
                    uint32_t e = tab[base[l] + (acc[l] & (TSIZE - 1))];
                    int nb = (e >> 8) & 15;
                    acc[l] >>= nb;
                    cntb[l] -= nb;
                    base[l] = e >> 12;
                    dst[(size_t)l * seg + j] =
                        (uint16_t)(((rb[(size_t)l * seg + j] & 0x80) << 8) | (e & 0xff) << 7 |
                                   (rb[(size_t)l * seg + j] & 0x7f));
                    if (cntb[l] < 32) { /* refill 32 bits */
                        uint32_t w32;
                        memcpy(&w32, p[l], 4);
                        acc[l] |= (uint64_t)w32 << cntb[l];
                        p[l] += 4;
                        cntb[l] += 32;
                    }
                }
#else
            { /* branchless: each lane reads a 64-bit window at its bit position */
                uint64_t bp[LANES];
                for (l = 0; l < LANES; l++) bp[l] = 0, p[l] = E[c].stream[l];
                for (j = 0; j < seg; j++)
                    for (l = 0; l < LANES; l++) {
                        uint64_t wnd;
                        memcpy(&wnd, p[l] + (bp[l] >> 3), 8);
                        uint32_t e = tab[base[l] + ((wnd >> (bp[l] & 7)) & (TSIZE - 1))];
                        bp[l] += (e >> 8) & 15;
                        base[l] = e >> 12;
                        dst[(size_t)l * seg + j] =
                            (uint16_t)(((rb[(size_t)l * seg + j] & 0x80) << 8) | (e & 0xff) << 7 |
                                       (rb[(size_t)l * seg + j] & 0x7f));
                    }
            }
            (void)acc, (void)cntb;
#endif
            if (r == 0 && memcmp(dst, src[c], 2 * E[c].n)) {
                printf("MISMATCH chunk %zu\n", c);
                return 1;
            }
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("decode + merge: %.0f MB/s of bf16 (best of %d)\n", raw / best / 1e6, reps);
    return 0;
}
