/* Structure-aware FLOAT payloads (spec/CODERS.md 3): the fuzzer's bytes choose the
 * fields, this target lays them out correctly, so the table builders, the context
 * selection and the rANS renormalization see hostile but well-formed values that random
 * bytes never reach (a random header passes the first checks with odds of ~2^-40).
 *
 * Input, read as a stream of choices:
 *   kind (BF16/F16/F32), mode (1 or 2), flags, n (< 1100, or < 8192 with bit 15), B, C, P, the thresholds, each
 *   context's table (used symbols, weight codes), a PRNG seed, then the stream part.
 * Flags (a set flag makes the payload hostile; none set: a valid payload):
 *   HB     B, C, P and the thresholds are any byte, not their legal range
 *   HCOUNT a table lists up to 2^B symbols whatever P (more than 2^P slots hold), and
 *          its nused field may be any B+1-bit value
 *   HTLEN  tlen is off by a signed byte
 *   HRAW   the 32 rANS states and the words are raw fuzzer bytes (states mapped into
 *          [2^15, 2^31) unless HSTATE), instead of a genuine stream
 *   HSTATE states are raw u32s (out of range ones included)
 *   HMUT   a few bytes of the finished payload are overwritten, or it is cut short
 * Without HRAW the target encodes a genuine stream: it draws n symbols, each from the
 * table of its context (the previous symbol of its lane, by the spec's nextctx), and
 * codes them with the spec's informative encoder (CODERS.md 1.3, written here, so the
 * check does not lean on the library's encoder); the raw bits and F32 byte planes are
 * drawn from the PRNG (the planes coded by zw_ent_encode). Checked: a valid payload
 * decodes, to exactly the values laid out; any payload decodes or fails with a code on
 * the default SIMD path and one other path of the machine alike, picked by the
 * input's last choice (same return, same code, same bytes). */
#include "zwfuzz.h"

enum { HB = 1, HCOUNT = 2, HTLEN = 4, HRAW = 8, HSTATE = 16, HMUT = 32 };

typedef struct {
    uint16_t sym[4096];
    uint8_t q[4096];
    uint32_t f[4096];
    int m;
} table;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zwf_in in = {data, size, 0};
    static const int EBs[3] = {8, 5, 8}, Bmin[3] = {9, 6, 9};
    static table T[ZW_MAXCTX];
    int kind = zwf_range(&in, 0, 2), mode = 1 + (int)(zwf_u8(&in) & 1), flags = (int)zwf_u8(&in) & 63;
    int EB = EBs[kind], E = (1 << EB) - 1, vs = kind == 2 ? 4 : 2;
    size_t n = zwf_u16(&in), j;
    int B, C, P, G, A, w, c, thr[ZW_MAXCTX], valid, rc, k, np;
    uint8_t *pay, *dst, *exp_, *rest, *planes[2] = {NULL, NULL}, *pl_enc[2] = {NULL, NULL};
    size_t pl_len[2] = {0, 0}, cap, pos, restlen, tlen_pos, slen = 0;
    (void)slen;
    uint16_t *sym = NULL;
    uint8_t *ctx = NULL;
    static uint8_t nextctx[1 << 15];
    zwf_bits bw;
    uint64_t tbits;
    zw_err e;
    zwf_path paths[2];

    zwf_init();
    n = (n & 0x8000) ? n & 0x1fff : n % 1100; /* mostly one block and a tail; up to 8191 */
    if (flags & HB) {
        B = (int)zwf_u8(&in) & 15;
        C = (int)zwf_u8(&in) & 31;
        P = (int)zwf_u8(&in) & 15;
        if (B < 1) B = 1;
        if (C < 1) C = 1;
        if (C > ZW_MAXCTX) C = ZW_MAXCTX; /* the target's arrays hold 16 tables */
        if (P < 1) P = 1;
    } else {
        B = zwf_range(&in, Bmin[kind], 12);
        C = mode == 2 ? 2 * zwf_range(&in, 1, ZW_MAXCTX / 2) : zwf_range(&in, 1, ZW_MAXCTX);
        P = zwf_range(&in, ZW_PBMIN, ZW_PBMAX);
    }
    G = mode == 2 ? C / 2 : C;
    if (G < 1) G = 1;
    A = 1 << B;
    w = 16 - B;
    /* thresholds: strictly increasing, each <= E */
    {
        int prev = -1;
        for (k = 0; k < G - 1; k++) {
            if (flags & HB) {
                thr[k] = (int)zwf_u8(&in);
            } else {
                int room = E - (G - 2 - k) - (prev + 1); /* slack left for this one */
                thr[k] = prev + 1 + (room > 0 ? (int)(zwf_u8(&in) % (uint32_t)(room + 1)) % 64 : 0);
                prev = thr[k];
            }
        }
    }
    valid = !(flags & (HB | HCOUNT | HTLEN | HRAW | HSTATE | HMUT));
    /* tables */
    for (c = 0; c < C; c++) {
        table *t = &T[c];
        int cap_m = (flags & HCOUNT) ? A : (A < (1 << P) ? A : (1 << P)), s, i;
        if (cap_m > 4096) cap_m = 4096;
        t->m = 1 + (int)(zwf_u16(&in) % (uint32_t)cap_m);
        if (zwf_u8(&in) & 1) t->m = cap_m - (t->m % 8 < cap_m ? t->m % 8 : 0); /* near full */
        for (i = 0, s = -1; i < t->m; i++) {
            int slack = (A - 1 - s) - (t->m - i); /* symbols that may still be skipped */
            int gap = 1 + (slack > 0 ? (int)(zwf_u8(&in) % (uint32_t)(slack + 1)) % 32 : 0);
            s += gap;
            t->sym[i] = (uint16_t)s;
            t->q[i] = (uint8_t)(1 + zwf_u8(&in) % ZW_QMAX);
        }
        if (t->m <= (1 << P)) zwf_normalize(t->q, t->m, t->f, P);
    }
    zwf_seed(zwf_u32(&in));
    for (j = 0; j < 8; j++) zwf_rnd();

    /* room: header, thresholds, tables, planes, raw bits, stream */
    /* header + tables + F32 planes + raw bits + states + words (raw words: <= 2n + 64) */
    cap = 64 + (size_t)C * 25000 + 2 * (4 + zw_ent_bound(n)) + (n * 16 + 7) / 8 + 8 + 4 * ZW_LANES + 4 * n + 128;
    /* the harness's own buffers are static (no page faults per input); the decoder
     * gets exact-size heap copies */
    static uint8_t paybuf[64 + ZW_MAXCTX * 25000 + 2 * (4 + 8191 + 21) + 2 * 8191 + 8 + 4 * ZW_LANES + 4 * 8191 + 128];
    ZWF_CHECK(cap <= sizeof paybuf, "payload bound %zu", cap);
    pay = paybuf;
    pay[0] = (uint8_t)kind;
    pay[1] = (uint8_t)mode;
    zw_wr32(pay + 2, (uint32_t)n);
    pay[6] = (uint8_t)B;
    pay[7] = (uint8_t)C;
    pay[8] = (uint8_t)P;
    pos = 9;
    for (k = 0; k < G - 1; k++) pay[pos++] = (uint8_t)thr[k];
    tlen_pos = pos;
    pos += 4;
    bw.buf = pay + pos;
    bw.cap = cap - pos;
    bw.bits = 0;
    for (c = 0; c < C; c++) {
        uint32_t nf = (uint32_t)T[c].m;
        if ((flags & HCOUNT) && (zwf_u8(&in) & 7) == 0) nf = zwf_u16(&in) & ((2u << B) - 1);
        zwf_put_table(&bw, B, T[c].sym, T[c].q, T[c].m, nf);
    }
    tbits = bw.bits;
    {
        size_t tlen = (size_t)((tbits + 7) / 8);
        int64_t tl = (int64_t)tlen;
        if (flags & HTLEN) tl += (int8_t)zwf_u8(&in);
        if (tl < 0) tl = 0;
        zw_wr32(pay + tlen_pos, (uint32_t)tl);
        pos += tlen;
    }
    /* symbols and their contexts, in decoding order (spec 1.3), when it can be coded */
    if (B > 12 || P < ZW_PBMIN || P > ZW_PBMAX) flags |= HRAW; /* no genuine stream exists */
    for (c = 0; c < C; c++)
        if (T[c].m > (1 << P)) flags |= HRAW;
    for (c = 0; c < A; c++) {
        int ex = (c >> (B - 1 - EB >= 0 ? B - 1 - EB : 0)) & E, g = 0;
        for (k = 0; k < G - 1; k++) g += thr[k] <= ex;
        if (mode == 2 && (c >> (B - 1)) & 1) g += G;
        nextctx[c] = (uint8_t)(g < C ? g : C - 1);
    }
    sym = zwf_alloc(n * sizeof *sym);
    ctx = zwf_alloc(n);
    {
        size_t seg = zw_seg_len(n), r = n - ZW_LANES * seg, i;
        int l, cl[ZW_LANES];
        for (l = 0; l < ZW_LANES; l++) cl[l] = 0;
        for (i = 0; i < seg; i++)
            for (l = 0; l < ZW_LANES; l++) {
                size_t jj = (size_t)l * seg + i;
                const table *t = &T[cl[l]];
                int ix = (int)(zwf_rnd() % (1 + zwf_rnd() % (uint32_t)t->m));
                ctx[jj] = (uint8_t)cl[l];
                sym[jj] = t->sym[ix];
                cl[l] = nextctx[sym[jj]];
            }
        for (i = 0; i < r; i++) {
            size_t jj = ZW_LANES * seg + i;
            const table *t = &T[cl[i % ZW_LANES]];
            int ix = (int)(zwf_rnd() % (1 + zwf_rnd() % (uint32_t)t->m));
            ctx[jj] = (uint8_t)cl[i % ZW_LANES];
            sym[jj] = t->sym[ix];
            cl[i % ZW_LANES] = nextctx[sym[jj]];
        }
    }
    /* F32: the two low byte planes, as ent payloads */
    if (kind == 2) {
        int pl;
        for (pl = 0; pl < 2; pl++) {
            uint32_t mask = (uint32_t)zwf_u8(&in) | (zwf_u8(&in) & 1 ? 0 : 0xff);
            planes[pl] = zwf_alloc(n);
            for (j = 0; j < n; j++) planes[pl][j] = (uint8_t)(zwf_rnd() & mask);
            pl_enc[pl] = zwf_alloc(zw_ent_bound(n));
            pl_len[pl] = zw_ent_encode(planes[pl], n, pl_enc[pl]);
            ZWF_CHECK(pl_len[pl] != (size_t)-1 && pl_len[pl] <= zw_ent_bound(n), "ent encode");
            zw_wr32(pay + pos, (uint32_t)pl_len[pl]);
            memcpy(pay + pos + 4, pl_enc[pl], pl_len[pl]);
            pos += 4 + pl_len[pl];
        }
    }
    /* raw bits: w bits per value, LSB first, random padding */
    restlen = (n * (size_t)w + 7) / 8;
    rest = pay + pos;
    for (j = 0; j < restlen; j++) rest[j] = (uint8_t)zwf_rnd();
    pos += restlen;
    /* the rANS stream */
    if (!(flags & HRAW)) {
        /* the spec's informative encoder (CODERS.md 1.3), written here: reverse decoding
         * order, renormalize when x >= f << (31 - P), words stored in reverse emission
         * order after the 32 final states */
        static uint32_t cum[ZW_MAXCTX * 4096], fr[ZW_MAXCTX * 4096];
        static uint16_t words[8192];
        uint32_t x[ZW_LANES];
        size_t nw = 0, seg = zw_seg_len(n), r = n - ZW_LANES * seg, i;
        int l;
        memset(fr, 0, (size_t)C * (size_t)A * sizeof *fr);
        for (c = 0; c < C; c++) {
            uint32_t st = 0;
            int ii;
            for (ii = 0; ii < T[c].m; ii++) {
                cum[(size_t)c * A + T[c].sym[ii]] = st;
                fr[(size_t)c * A + T[c].sym[ii]] = T[c].f[ii];
                st += T[c].f[ii];
            }
        }
        for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
        /* reverse decoding order: tail t = r-1..0, then steps i = seg-1..0, lanes 31..0 */
        for (i = r; i-- > 0;) {
            size_t j2 = ZW_LANES * seg + i;
            size_t at = (size_t)ctx[j2] * A + sym[j2];
            uint32_t f = fr[at], *xs = &x[i % ZW_LANES];
            ZWF_CHECK(f >= 1, "symbol without a frequency");
            if (*xs >= (f << (31 - P))) {
                words[nw++] = (uint16_t)(*xs & 0xffff);
                *xs >>= 16;
            }
            *xs = (*xs / f) * (1u << P) + (*xs % f) + cum[at];
        }
        for (i = seg; i-- > 0;)
            for (l = ZW_LANES - 1; l >= 0; l--) {
                size_t j2 = (size_t)l * seg + i;
                size_t at = (size_t)ctx[j2] * A + sym[j2];
                uint32_t f = fr[at], *xs = &x[l];
                ZWF_CHECK(f >= 1, "symbol without a frequency");
                if (*xs >= (f << (31 - P))) {
                    words[nw++] = (uint16_t)(*xs & 0xffff);
                    *xs >>= 16;
                }
                *xs = (*xs / f) * (1u << P) + (*xs % f) + cum[at];
            }
        ZWF_CHECK(nw <= n, "%zu words for %zu symbols", nw, n);
        for (l = 0; l < ZW_LANES; l++) zw_wr32(pay + pos + 4 * (size_t)l, x[l]);
        pos += 4 * ZW_LANES;
        for (i = nw; i-- > 0;) {
            pay[pos++] = (uint8_t)words[i];
            pay[pos++] = (uint8_t)(words[i] >> 8);
        }
        slen = 4 * ZW_LANES + 2 * nw;
    } else {
        int l;
        for (l = 0; l < ZW_LANES; l++) {
            uint32_t x = zwf_u32(&in);
            if (!(flags & HSTATE)) x = ZW_L + x % ((1u << 31) - ZW_L);
            zw_wr32(pay + pos + 4 * l, x);
        }
        pos += 4 * ZW_LANES;
        {
            size_t nw = zwf_left(&in) / 2;
            if (nw > 2 * n + 64) nw = 2 * n + 64;
            for (j = 0; j < nw; j++) {
                uint32_t v = zwf_u16(&in);
                pay[pos++] = (uint8_t)v;
                pay[pos++] = (uint8_t)(v >> 8);
            }
        }
    }
    ZWF_CHECK(pos <= cap, "payload buffer overflow in the target (%zu > %zu)", pos, cap);
    if (flags & HMUT) {
        int nm = 1 + (int)(zwf_u8(&in) & 3);
        if (zwf_u8(&in) & 1) {
            pos = pos ? (size_t)zwf_u32(&in) % pos : 0; /* cut */
        } else {
            for (k = 0; k < nm && pos; k++) {
                size_t at = (size_t)zwf_u32(&in) % pos;
                pay[at] ^= (uint8_t)(zwf_u8(&in) | 1);
            }
        }
    }
    /* expected values */
    exp_ = zwf_alloc(n * (size_t)vs);
    for (j = 0; j < n; j++) {
        uint64_t bp = (uint64_t)j * (uint64_t)w, r = 0;
        int b;
        uint32_t h, v;
        for (b = 0; b < w; b++) r |= (uint64_t)((rest[(bp + b) >> 3] >> ((bp + b) & 7)) & 1) << b;
        h = ((uint32_t)sym[j] << w) | (uint32_t)r;
        v = kind == 2 ? (h << 16) | ((uint32_t)planes[0][j] << 8) | planes[1][j] : h;
        memcpy(exp_ + j * (size_t)vs, &v, (size_t)vs); /* little-endian host */
    }
    {
        uint8_t *p = zwf_dup(pay, pos);
        size_t nbytes = n * (size_t)vs;
        dst = zwf_alloc(nbytes);
        rc = zw_float_decode(p, pos, kind, dst, nbytes, &e);
        if (valid)
            ZWF_CHECK(rc == 0, "valid payload rejected (kind %d mode %d n %zu B %d C %d P %d): %s", kind, mode, n, B,
                      C, P, e.msg);
        if (rc == 0 && !(flags & (HRAW | HMUT | HTLEN | HCOUNT)))
            ZWF_CHECK(memcmp(dst, exp_, nbytes) == 0, "decoded values differ (kind %d mode %d n %zu B %d C %d P %d)",
                      kind, mode, n, B, C, P);
        if (rc) ZWF_CHECK(e.code > ZW_OK && e.code < ZW_NCODES, "error without a code: %s", e.msg);
        np = zwf_other_paths(paths);
        if (np > 1) { /* one other path per input (the fuzzer's choice), to keep it fast */
            paths[0] = paths[zwf_u8(&in) % (uint32_t)np];
            np = 1;
        }
        for (k = 0; k < np; k++) {
            uint8_t *d2 = zwf_alloc(nbytes);
            zw_err e2;
            zwf_envsave s = zwf_path_enter(paths[k]);
            int rc2 = zw_float_decode(p, pos, kind, d2, nbytes, &e2);
            zwf_path_leave(s);
            ZWF_CHECK(rc2 == rc, "path %d returns %d, default path %d (%s)", (int)paths[k], rc2, rc,
                      rc ? e.msg : e2.msg);
            if (rc) ZWF_CHECK(e2.code == e.code, "path %d error code %d vs %d: %s / %s", (int)paths[k], (int)e2.code,
                              (int)e.code, e2.msg, e.msg);
            else
                ZWF_CHECK(memcmp(dst, d2, nbytes) == 0, "path %d decodes different bytes", (int)paths[k]);
            free(d2);
        }
        free(p);
        free(dst);
    }
    free(exp_);
    free(sym);
    free(ctx);
    for (k = 0; k < 2; k++) free(planes[k]), free(pl_enc[k]);
    return 0;
}
