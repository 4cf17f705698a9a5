/* rANS core: frequency tables (quantization, normalization, serialization) and a
 * 32-lane interleaved rANS coder with 32-bit states and 16-bit renormalization. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zw.h"

int zw_fail(zw_err *e, zw_code code, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---------------- quantized weights ---------------- */

int zw_quantize_count(uint64_t count, uint64_t total, int pb)
{
    /* f16 = ideal frequency (out of 2^pb) with 4 fractional bits */
    uint64_t f16 = (count * ((uint64_t)16 << pb) + total / 2) / total;
    int q;
    if (f16 < (32u << 4)) {
        q = (int)((f16 + 8) >> 4);
        return q < 1 ? 1 : q;
    }
    {
        int s = zw_log2_64(f16) - 8; /* floor(log2 f16) - 8: f / 2^s in [16, 32) */
        uint64_t m;
        m = (f16 + ((uint64_t)8 << s)) >> (4 + s);
        if (m >= 32) {
            m = 16;
            s++;
        }
        q = 32 + (s - 1) * 16 + (int)(m - 16);
        return q > ZW_QMAX ? ZW_QMAX : q;
    }
}

uint32_t zw_qweight(int q)
{
    if (q < 32) return (uint32_t)q;
    return (uint32_t)(16 + (q - 32) % 16) << (1 + (q - 32) / 16);
}

int zw_normalize_list(const uint8_t *q, int m, uint16_t *freq, int pb)
{
    const int64_t M = (int64_t)1 << pb;
    uint64_t W = 0;
    int64_t sum = 0;
    int i, imax = 0;
    uint32_t wmax = 0;
    /* every used symbol needs one of the M slots; with m <= M the steps below end with
     * frequencies >= 1 summing to exactly M (spec/CODERS.md, "normalization") */
    if (m < 1 || m > M) return -1;
    for (i = 0; i < m; i++) {
        uint32_t w = zw_qweight(q[i]);
        W += w;
        if (w > wmax) wmax = w, imax = i;
    }
    for (i = 0; i < m; i++) {
        uint64_t f = ((uint64_t)zw_qweight(q[i]) * (uint64_t)M) / W;
        if (f < 1) f = 1;
        freq[i] = (uint16_t)f;
        sum += (int64_t)f;
    }
    if (sum < M) {
        freq[imax] = (uint16_t)(freq[imax] + (M - sum));
    } else if (sum > M) {
        /* take the excess from every frequency above 1 in proportion to (f - 1), then
         * the rounding remainder one by one in symbol order */
        uint64_t E = (uint64_t)(sum - M), D = 0;
        int64_t left;
        for (i = 0; i < m; i++) D += (uint64_t)(freq[i] - 1);
        sum = 0;
        for (i = 0; i < m; i++) {
            freq[i] = (uint16_t)(freq[i] - ((uint64_t)(freq[i] - 1) * E) / D);
            sum += freq[i];
        }
        left = sum - M;
        while (left > 0) {
            int any = 0;
            for (i = 0; i < m && left > 0; i++)
                if (freq[i] > 1) {
                    freq[i]--;
                    left--;
                    any = 1;
                }
            if (!any) return -1; /* unreachable: m <= M */
        }
    }
    return 0;
}

int zw_normalize(const uint8_t *q, int A, uint16_t *freq, int pb)
{
    uint8_t ql[4096] = {0};
    uint16_t fl[4096];
    int idx[4096], i, m = 0;
    for (i = 0; i < A; i++) {
        freq[i] = 0;
        if (q[i]) {
            idx[m] = i;
            ql[m++] = q[i];
        }
    }
    if (zw_normalize_list(ql, m, fl, pb)) return -1;
    for (i = 0; i < m; i++) freq[idx[i]] = fl[i];
    return m;
}

/* ---------------- bit I/O (LSB first) ---------------- */

void zw_bw_init(zw_bw *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->pos = 0;
    w->acc = 0;
    w->nacc = 0;
}

void zw_bw_put(zw_bw *w, uint32_t v, int nb)
{
    if (nb <= 0) return;
    w->acc |= (uint64_t)(v & (uint32_t)(((uint64_t)1 << nb) - 1)) << w->nacc;
    w->nacc += nb;
    while (w->nacc >= 8) {
        if (w->pos < w->cap) w->buf[w->pos] = (uint8_t)w->acc;
        w->pos++;
        w->acc >>= 8;
        w->nacc -= 8;
    }
}

size_t zw_bw_finish(zw_bw *w)
{
    if (w->nacc > 0) zw_bw_put(w, 0, 8 - w->nacc);
    return w->pos;
}

uint32_t zw_br_get(zw_br *r, int nb)
{
    uint64_t byte = r->bitpos >> 3;
    if (nb <= 0) return 0;
    if (byte + 8 <= r->len) { /* fast path: one unaligned 64-bit window (nb <= 32) */
        uint64_t w;
        memcpy(&w, r->buf + byte, 8);
        r->bitpos += (uint64_t)nb;
        return (uint32_t)((w >> (r->bitpos - (uint64_t)nb - (byte << 3))) &
                          (((uint64_t)1 << nb) - 1));
    }
    {
        uint32_t v = 0;
        int i;
        for (i = 0; i < nb; i++) {
            byte = r->bitpos >> 3;
            if (byte >= r->len) {
                r->overrun = 1;
                return 0;
            }
            v |= (uint32_t)((r->buf[byte] >> (r->bitpos & 7)) & 1) << i;
            r->bitpos++;
        }
        return v;
    }
}

static int nbits(uint32_t v) /* floor(log2 v) for v >= 1 */
{
    return zw_log2_32(v);
}

static void put_gamma(zw_bw *w, uint32_t v) /* v >= 1 */
{
    int nb = nbits(v);
    zw_bw_put(w, 0, nb);
    zw_bw_put(w, 1, 1);
    zw_bw_put(w, v, nb);
}

static uint32_t get_gamma(zw_br *r)
{
    int nb = 0;
    while (!zw_br_get(r, 1)) {
        if (r->overrun || ++nb > 24) {
            r->overrun = 1;
            return 0;
        }
    }
    return ((uint32_t)1 << nb) | zw_br_get(r, nb);
}

static uint32_t zigzag(int v) { return v >= 0 ? (uint32_t)v * 2 : (uint32_t)(-v) * 2 - 1; }
static int unzigzag(uint32_t z) { return (z & 1) ? -(int)((z + 1) >> 1) : (int)(z >> 1); }


/* Table format (per context): nused in B+1 bits, then for each used symbol in ascending
 * order gamma(gap + 1) where gap = symbols skipped since the previous used one, and the
 * quantized weight: the first as 8 raw bits, later ones as gamma(zigzag(q - prev_q) + 1). */
void zw_table_write(zw_bw *w, const uint8_t *q, int B)
{
    int A = 1 << B, s, prev = -1, pq = 0, nused = 0;
    for (s = 0; s < A; s++) nused += q[s] != 0;
    zw_bw_put(w, (uint32_t)nused, B + 1);
    for (s = 0; s < A; s++) {
        if (!q[s]) continue;
        put_gamma(w, (uint32_t)(s - prev));
        if (prev < 0)
            zw_bw_put(w, q[s], 8);
        else
            put_gamma(w, zigzag((int)q[s] - pq) + 1);
        prev = s;
        pq = q[s];
    }
}

int zw_table_read_list(zw_br *r, int B, int pb, uint16_t *sym, uint8_t *q, int *m, zw_err *e)
{
    int A = 1 << B, k, s = -1, pq = 0;
    uint32_t nused = zw_br_get(r, B + 1);
    if (r->overrun) return zw_fail(e, ZW_ETRUNC, "payload truncated: frequency table cut short");
    if (nused < 1 || nused > (uint32_t)A)
        return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %u symbols in an alphabet of %d",
                       nused, A);
    if (nused > (1u << pb))
        return zw_fail(e, ZW_ECORRUPT,
                       "frequency table invalid: %u symbols do not fit in a table of %u slots",
                       nused, 1u << pb);
    for (k = 0; k < (int)nused; k++) {
        uint32_t gap = get_gamma(r);
        int v;
        if (r->overrun) return zw_fail(e, ZW_ETRUNC, "frequency table invalid or truncated");
        if ((uint64_t)s + gap >= (uint64_t)A)
            return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: symbol out of range");
        s += (int)gap;
        if (k == 0)
            v = (int)zw_br_get(r, 8);
        else
            v = pq + unzigzag(get_gamma(r) - 1);
        if (r->overrun) return zw_fail(e, ZW_ETRUNC, "frequency table invalid or truncated");
        if (v < 1 || v > ZW_QMAX)
            return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: weight code %d", v);
        sym[k] = (uint16_t)s;
        q[k] = (uint8_t)v;
        pq = v;
    }
    *m = (int)nused;
    return 0;
}

int zw_dtabs_alloc(zw_dtabs *t, int C, int pb, int slot)
{
    t->pb = pb;
    t->e = zw_scratch(slot, ((size_t)C << pb) * sizeof *t->e);
    return t->e ? 0 : -1;
}

void zw_dtabs_free(zw_dtabs *t, int slot)
{
    zw_scratch_done(slot, t->e);
    t->e = NULL;
}

void zw_build_dtab_list(zw_dtabs *t, int c, const uint16_t *sym, const uint16_t *freq, int m,
                        const uint8_t *nextctx)
{
    uint32_t start = 0;
    uint64_t *et = t->e + ((size_t)c << t->pb);
    int i;
    for (i = 0; i < m; i++) {
        uint32_t f = freq[i], k, s = sym[i];
        uint64_t ent = (uint64_t)(f | (start << 16)) |
                       ((uint64_t)(s | ((uint32_t)(nextctx ? nextctx[s] : 0) << (t->pb + 12))) << 32);
        for (k = start; k < start + f; k++) et[k] = ent;
        start += f;
    }
}

void zw_build_esym(zw_esym *t, const uint16_t *freq, int A, int pb)
{
    const uint32_t M = 1u << pb;
    uint32_t start = 0;
    int s;
    for (s = 0; s < A; s++) {
        uint32_t f = freq[s];
        zw_esym *e = &t[s];
        if (!f) {
            memset(e, 0, sizeof *e);
            continue;
        }
        e->xm1 = ((ZW_L >> pb) << 16) * f - 1;
        e->cmpl = (uint16_t)(M - f);
        if (f < 2) {
            e->rcp = ~0u;
            e->shift = 0;
            e->bias = start + M - 1;
        } else {
            uint32_t shift = 0;
            while (f > (1u << shift)) shift++;
            e->rcp = (uint32_t)((((uint64_t)1 << (shift + 31)) + f - 1) / f);
            e->shift = (uint16_t)(shift - 1);
            e->bias = start;
        }
        start += f;
    }
}

/* ---------------- rANS encode ---------------- */

size_t zw_rans_encode_bytes(const uint8_t *src, size_t n, const zw_esym *tab, uint8_t *out)
{
    size_t seg = zw_seg_len(n), tail = n - ZW_LANES * seg, i, t;
    uint32_t x[ZW_LANES];
    uint8_t *wend = out + 4 * ZW_LANES + 2 * n + 2, *p = wend;
    int l;
    for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
    for (t = tail; t-- > 0;) ENC_PUT(x[t % ZW_LANES], &tab[src[ZW_LANES * seg + t]]);
    for (i = seg; i-- > 0;)
        for (l = ZW_LANES - 1; l >= 0; l--) ENC_PUT(x[l], &tab[src[(size_t)l * seg + i]]);
    p -= 4 * ZW_LANES;
    for (l = 0; l < ZW_LANES; l++) zw_wr32(p + 4 * l, x[l]);
    {
        size_t len = (size_t)(wend - p);
        memmove(out, p, len);
        return len;
    }
}

/* ---------------- rANS decode ---------------- */

int zw_rdec_init(zw_rdec *d, const uint8_t *stream, size_t len, zw_err *e)
{
    int l;
    if (len < 4 * ZW_LANES)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes of rANS states, have %zu",
                       4 * ZW_LANES, len);
    for (l = 0; l < ZW_LANES; l++) {
        d->x[l] = zw_rd32(stream + 4 * l);
        d->base[l] = 0;
        if (d->x[l] < ZW_L || d->x[l] >= (1u << 31))
            return zw_fail(e, ZW_ECORRUPT, "rANS state out of range");
    }
    d->p = stream + 4 * ZW_LANES;
    d->end = stream + len;
    d->simd = zw_have_avx512() ? 2 : zw_have_avx2();
    return 0;
}

static inline uint32_t ld16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

#define DEC_ONE(l, OUT, RENORM)                                                                  \
    do {                                                                                 \
        uint32_t xx_ = x[l];                                                             \
        uint32_t slot_ = xx_ & smask;                                                    \
        uint64_t en_ = et[base[l] + slot_];                                              \
        uint32_t fb_ = (uint32_t)en_, sy_ = (uint32_t)(en_ >> 32);                       \
        xx_ = (fb_ & 0xffff) * (xx_ >> pb) + slot_ - (fb_ >> 16);                        \
        base[l] = sy_ >> 12;                                                             \
        (OUT) = (uint16_t)(sy_ & 0xfff);                                                 \
        RENORM                                                                           \
        x[l] = xx_;                                                                      \
    } while (0)

/* renormalization that checks the stream has a word left (the fast path knows it has) */
#define CHECKED_RENORM                                                                   \
    if (xx_ < ZW_L) {                                                                    \
        if (end - p < 2) return zw_fail(e, ZW_ETRUNC, "payload truncated: rANS stream ends early"); \
        xx_ = (xx_ << 16) | ld16(p);                                                     \
        p += 2;                                                                          \
    }

#define LOAD_STATE                                                                       \
    uint32_t x[ZW_LANES], base[ZW_LANES];                                                \
    const uint64_t *restrict et = t->e;                                                  \
    const int pb = t->pb;                                                                \
    const uint32_t smask = (1u << pb) - 1;                                               \
    const uint8_t *p = d->p, *end = d->end;                                              \
    int l;                                                                               \
    for (l = 0; l < ZW_LANES; l++) x[l] = d->x[l], base[l] = d->base[l];
#define SAVE_STATE                                                                       \
    for (l = 0; l < ZW_LANES; l++) d->x[l] = x[l], d->base[l] = base[l];                 \
    d->p = p;

/* ctx: NULL (each symbol's entry names the next context of its lane), or the table base
 * of every symbol */
static int rdec_block(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *restrict out,
                      zw_err *e)
{
    if (d->simd) {
        /* SIMD for as many steps as the stream surely holds words for (at most one per
         * symbol, plus the 16-byte over-read); only the last step or two go scalar */
        while (S > 0 && (size_t)(d->end - d->p) >= (size_t)2 * ZW_LANES + 16) {
            int run = S;
            size_t room = ((size_t)(d->end - d->p) - 16) / (2 * ZW_LANES);
            if ((size_t)run > room) run = (int)room; /* near the end: fewer steps, still SIMD */
            if (d->simd == 2)
                zw_rdec_block_avx512(d, t, run, ctx, out);
            else
                zw_rdec_block_avx2(d, t, run, ctx, out);
            out += (size_t)run * ZW_LANES;
            if (ctx) ctx += (size_t)run * ZW_LANES;
            S -= run;
        }
        if (!S) return 0;
    }
    {
        LOAD_STATE
        int s;
        if ((size_t)(end - p) >= (size_t)2 * ZW_LANES * S) {
/* Two phases per step: the table lookups of all lanes are independent; the shared
 * stream pointer is then advanced by a cheap compare/add chain. */
            for (s = 0; s < S; s++) {
                if (ctx)
                    for (l = 0; l < ZW_LANES; l++) base[l] = ctx[s * ZW_LANES + l];
                for (l = 0; l < ZW_LANES; l++) DEC_ONE(l, out[s * ZW_LANES + l], /* below */);
                for (l = 0; l < ZW_LANES; l++) {
                    uint32_t xx_ = x[l], w_ = ld16(p);
                    uint32_t need_ = xx_ < ZW_L, m_ = 0u - need_;
                    /* branchless: renormalization is data-dependent and unpredictable */
                    x[l] = (xx_ & ~m_) | (((xx_ << 16) | w_) & m_);
                    p += 2 * need_;
                }
            }
        } else {
            for (s = 0; s < S; s++)
                for (l = 0; l < ZW_LANES; l++) {
                    if (ctx) base[l] = ctx[s * ZW_LANES + l];
                    DEC_ONE(l, out[s * ZW_LANES + l], CHECKED_RENORM);
                }
        }
        SAVE_STATE
    }
    return 0;
}

static int rdec_tail(zw_rdec *d, const zw_dtabs *t, int r, const uint32_t *ctx, uint16_t *restrict out,
                     zw_err *e)
{
    LOAD_STATE
    int k;
    for (k = 0; k < r; k++) {
        l = k % ZW_LANES;
        if (ctx) base[l] = ctx[k];
        DEC_ONE(l, out[k], CHECKED_RENORM);
    }
    SAVE_STATE
    return 0;
}

int zw_rdec_block(zw_rdec *d, const zw_dtabs *t, int S, uint16_t *restrict out, zw_err *e)
{
    return rdec_block(d, t, S, NULL, out, e);
}

int zw_rdec_tail(zw_rdec *d, const zw_dtabs *t, int r, uint16_t *restrict out, zw_err *e)
{
    return rdec_tail(d, t, r, NULL, out, e);
}

int zw_rdec_block_ctx(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out, zw_err *e)
{
    return rdec_block(d, t, S, ctx, out, e);
}

int zw_rdec_tail_ctx(zw_rdec *d, const zw_dtabs *t, int r, const uint32_t *ctx, uint16_t *out, zw_err *e)
{
    return rdec_tail(d, t, r, ctx, out, e);
}


int zw_rdec_finish(zw_rdec *d, zw_err *e)
{
    int l;
    for (l = 0; l < ZW_LANES; l++)
        if (d->x[l] != ZW_L) return zw_fail(e, ZW_ECORRUPT, "rANS stream corrupted: final state mismatch");
    if (d->p != d->end)
        return zw_fail(e, ZW_ETRAIL, "trailing bytes: %zu unused bytes after the rANS stream",
                       (size_t)(d->end - d->p));
    return 0;
}
