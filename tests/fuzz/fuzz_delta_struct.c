/* Structure-aware delta payloads (spec/CODERS.md 4): the fuzzer's bytes choose the
 * fields, this target lays them out, so that the decoder's table builders (the SIMD
 * path's token-0 registers and compact table for P <= 12, the portable tables above),
 * its contexts, the extra bits and the rANS renormalization see hostile but well-formed
 * values that random bytes do not reach. The kernel's own encoder always writes P = 11
 * and the tables its counts give; here any op, C, elo, P and table is possible.
 *
 * Input, read as a stream of choices: kind, flags, n (< 1100; < 8192 or < 32768 with
 * its top bits), op, C, elo, P, each context's table (used tokens, weight codes), the
 * base's exponent spread, a PRNG seed, then the stream part.
 * Flags (a set flag makes the payload hostile; none set: a valid payload):
 *   HB    op, C, elo and P are any byte, not their legal range
 *   HTOK  a table may hold tokens up to 2^B - 1 (>= T: corrupt)
 *   HTLEN tlen is off by a signed byte
 *   HX    xlen is off by a signed byte, or the padding bits of the extra bits are set
 *   HRAW  the 32 rANS states and the words are raw fuzzer bytes (states mapped into
 *         [2^15, 2^31) unless the next choice says raw), not a genuine stream
 *   HMUT  a few bytes of the finished payload are overwritten, or it is cut short
 * Without HRAW the target draws each value's token from the table of its context (its
 * base value's exponent), its extra bits from the PRNG, computes the value from the
 * base and z (spec 4, written here), and codes the tokens with the spec's informative
 * rANS encoder (CODERS.md 1.3, written here, independent of the library). Checked: a
 * valid payload decodes, to exactly the values laid out; any payload decodes or fails
 * with a code alike on the default SIMD path and one other path of the machine (same
 * return, same code, same bytes). */
#include "zwfuzz.h"

enum { HB = 1, HTOK = 2, HTLEN = 4, HX = 8, HRAW = 16, HMUT = 32 };

typedef struct {
    uint16_t sym[128];
    uint8_t q[128];
    uint32_t f[128], cum[128];
    int m;
} table;

/* spec 4: the order map and its inverse, W-bit patterns */
static uint32_t ordv(uint32_t v, int W)
{
    uint32_t S = 1u << (W - 1), Mk = W == 32 ? 0xffffffffu : (1u << W) - 1;
    return (v & S) ? v ^ Mk : v ^ S;
}
static uint32_t unordv(uint32_t o, int W)
{
    uint32_t S = 1u << (W - 1), Mk = W == 32 ? 0xffffffffu : (1u << W) - 1;
    return (o & S) ? o ^ S : o ^ Mk;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zwf_in in = {data, size, 0};
    static table T[ZW_DMAXCTX];
    int kind = zwf_range(&in, 0, 2), flags = (int)zwf_u8(&in) & 63;
    const int W = kind == 2 ? 32 : 16, EB = kind == 1 ? 5 : 8, B = W == 16 ? 6 : 7, TK = W == 16 ? 40 : 72;
    const int emask = (1 << EB) - 1, vs = W / 8;
    const uint32_t Mk = W == 32 ? 0xffffffffu : 0xffffu;
    size_t n = zwf_u16(&in), j, cap, pos, tlen_pos, xlen_pos, xstart;
    int op, C, elo, P, c, k, valid, rc, np, espread, ebase;
    uint8_t *pay, *dst, *p, *basebuf, *exp_;
    uint16_t *tok;
    uint8_t *ctxof;
    uint32_t *zv;
    zwf_bits bw;
    zw_err e;
    zwf_path paths[2];

    zwf_init();
    n = (n & 0xc000) == 0xc000 ? n & 0x7fff : (n & 0x8000) ? n & 0x1fff : n % 1100;
    if (flags & HB) {
        op = (int)zwf_u8(&in);
        C = (int)zwf_u8(&in);
        elo = (int)zwf_u8(&in);
        P = (int)zwf_u8(&in);
    } else {
        op = (int)(zwf_u8(&in) & 1);
        C = zwf_range(&in, 1, ZW_DMAXCTX);
        elo = zwf_range(&in, 0, emask);
        P = zwf_range(&in, ZW_PBMIN, ZW_PBMAX);
    }
    /* tables: m used tokens ascending (token 0 in or out), weight codes 1..191 */
    for (c = 0; c < (C >= 1 && C <= ZW_DMAXCTX ? C : ZW_DMAXCTX); c++) { /* all 16 when C is hostile */
        table *t = &T[c];
        int A = (flags & HTOK) ? 1 << B : TK, s = -1, i;
        t->m = 1 + (int)(zwf_u8(&in) % (uint32_t)(zwf_u8(&in) & 1 ? 4 : A));
        for (i = 0; i < t->m; i++) {
            int slack = (A - 1 - s) - (t->m - i);
            s += 1 + (slack > 0 ? (int)(zwf_u8(&in) % (uint32_t)(slack + 1)) % 8 : 0);
            t->sym[i] = (uint16_t)s;
            t->q[i] = (uint8_t)(1 + zwf_u8(&in) % ZW_QMAX);
        }
        if (P >= ZW_PBMIN && P <= ZW_PBMAX) {
            uint32_t st = 0;
            zwf_normalize(t->q, t->m, t->f, P);
            for (i = 0; i < t->m; i++) t->cum[i] = st, st += t->f[i];
        }
    }
    espread = 1 + (int)(zwf_u8(&in) % 24); /* base exponents around the contexts' window */
    ebase = elo - (int)(zwf_u8(&in) % 4);
    zwf_seed(zwf_u32(&in));
    for (j = 0; j < 8; j++) zwf_rnd();
    valid = !(flags & (HB | HTOK | HTLEN | HX | HRAW | HMUT));
    if (!(C >= 1 && C <= ZW_DMAXCTX && P >= ZW_PBMIN && P <= ZW_PBMAX && op <= 1 && elo <= emask)) flags |= HRAW;
    if (flags & HTOK)
        for (c = 0; c < C && c < ZW_DMAXCTX; c++)
            if (T[c].sym[T[c].m - 1] >= TK) flags |= HRAW; /* no value has such a token */

    /* the base values, the tokens (from the table of each value's context), z, t */
    basebuf = zwf_alloc(n * (size_t)vs);
    exp_ = zwf_alloc(n * (size_t)vs);
    tok = zwf_alloc(n * sizeof *tok);
    ctxof = zwf_alloc(n);
    zv = zwf_alloc(n * sizeof *zv);
    for (j = 0; j < n; j++) {
        int ex = ebase + (int)(zwf_rnd() % (uint32_t)espread), cc;
        uint32_t b, z, t;
        if (zwf_rnd() % 64 == 0) ex = (int)(zwf_rnd() & (uint32_t)emask); /* anywhere: the end contexts */
        ex &= emask;
        b = ((zwf_rnd() & 1u) << (W - 1)) | ((uint32_t)ex << (W - 1 - EB)) | (zwf_rnd() & ((1u << (W - 1 - EB)) - 1));
        if (zwf_rnd() % 256 == 0) b = zwf_rnd() & Mk; /* any pattern: NaN, inf, subnormals */
        memcpy(basebuf + j * (size_t)vs, &b, (size_t)vs); /* little-endian host */
        cc = (int)((b >> (W - 1 - EB)) & (uint32_t)emask) - elo; /* the context: spec 4 */
        cc = cc < 0 ? 0 : (C >= 1 && cc >= C) ? C - 1 : cc;
        ctxof[j] = (uint8_t)(cc < ZW_DMAXCTX ? cc : 0);
        if (flags & HRAW) {
            tok[j] = 0, z = 0;
        } else {
            const table *tb = &T[ctxof[j]];
            int ix = (int)(zwf_rnd() % (1 + zwf_rnd() % (uint32_t)tb->m));
            int tk = tb->sym[ix];
            tok[j] = (uint16_t)tk;
            if (tk < 16)
                z = (uint32_t)tk;
            else {
                int L = 4 + (tk - 16) / 2, h = (tk - 16) & 1;
                uint32_t xb = zwf_rnd() & (L - 1 >= 32 ? 0xffffffffu : (1u << (L - 1)) - 1);
                z = (1u << L) + ((uint32_t)h << (L - 1)) + xb;
            }
        }
        zv[j] = z;
        if (op == 1)
            t = b ^ z;
        else {
            uint32_t d = ((z >> 1) ^ (0u - (z & 1))) & Mk;
            t = unordv((ordv(b, W) + d) & Mk, W);
        }
        memcpy(exp_ + j * (size_t)vs, &t, (size_t)vs);
    }

    cap = 64 + (size_t)ZW_DMAXCTX * 400 + 8 + 4 * n + 4 * ZW_LANES + 4 * n + 64;
    pay = zwf_alloc(cap);
    pay[0] = (uint8_t)kind;
    pay[1] = (uint8_t)op;
    zw_wr32(pay + 2, (uint32_t)n);
    pay[6] = (uint8_t)C;
    pay[7] = (uint8_t)elo;
    pay[8] = (uint8_t)P;
    tlen_pos = 9;
    pos = 13;
    bw.buf = pay + pos;
    bw.cap = cap - pos;
    bw.bits = 0;
    for (c = 0; c < C && c < ZW_DMAXCTX; c++) zwf_put_table(&bw, B, T[c].sym, T[c].q, T[c].m, (uint32_t)T[c].m);
    {
        size_t tlen = (size_t)((bw.bits + 7) / 8);
        int64_t tl = (int64_t)tlen;
        if (flags & HTLEN) tl += (int8_t)zwf_u8(&in);
        zw_wr32(pay + tlen_pos, (uint32_t)(tl < 0 ? 0 : tl));
        pos += tlen;
    }
    /* the extra bits in decoding order (spec 1.3's order, spec 4's fields) */
    xlen_pos = pos;
    pos += 4;
    xstart = pos;
    bw.buf = pay + pos;
    bw.cap = cap - pos;
    bw.bits = 0;
    {
        size_t seg = zw_seg_len(n), r = n - ZW_LANES * seg, i;
        int l;
        for (i = 0; i < seg; i++)
            for (l = 0; l < ZW_LANES; l++) {
                size_t jj = (size_t)l * seg + i;
                if (tok[jj] >= 16) zwf_put(&bw, zv[jj], 4 + (tok[jj] - 16) / 2 - 1);
            }
        for (i = 0; i < r; i++) {
            size_t jj = ZW_LANES * seg + i;
            if (tok[jj] >= 16) zwf_put(&bw, zv[jj], 4 + (tok[jj] - 16) / 2 - 1);
        }
    }
    {
        size_t xlen = (size_t)((bw.bits + 7) / 8);
        int64_t xl = (int64_t)xlen;
        if (flags & HX) {
            if (zwf_u8(&in) & 1 && (bw.bits & 7))
                pay[xstart + xlen - 1] |= (uint8_t)(0x80); /* a padding bit */
            else
                xl += (int8_t)zwf_u8(&in);
        }
        if (xl < 0) xl = 0;
        if ((size_t)xl > xlen) memset(pay + xstart + xlen, 0, (size_t)xl - xlen);
        zw_wr32(pay + xlen_pos, (uint32_t)xl);
        pos += (size_t)xl;
    }
    if (!(flags & HRAW)) {
        /* the spec's informative encoder (CODERS.md 1.3): reverse decoding order,
         * renormalize when x >= f << (31 - P), words stored in reverse emission order
         * after the 32 final states */
        uint32_t x[ZW_LANES];
        uint16_t *words = zwf_alloc((n + 1) * sizeof *words);
        size_t nw = 0, seg = zw_seg_len(n), r = n - ZW_LANES * seg, i;
        int l;
        for (l = 0; l < ZW_LANES; l++) x[l] = ZW_L;
        for (i = n; i-- > 0;) {
            /* value i of the reverse order: the tail first, then steps seg-1..0, lanes 31..0 */
            size_t jj;
            int ln;
            const table *tb;
            uint32_t f = 0, st = 0, *xs;
            if (i >= ZW_LANES * seg) {
                jj = i;
                ln = (int)((i - ZW_LANES * seg) % ZW_LANES);
            } else {
                jj = (i % ZW_LANES) * seg + i / ZW_LANES;
                ln = (int)(i % ZW_LANES);
            }
            tb = &T[ctxof[jj]];
            for (k = 0; k < tb->m; k++)
                if (tb->sym[k] == tok[jj]) f = tb->f[k], st = tb->cum[k];
            ZWF_CHECK(f >= 1, "token without a frequency");
            xs = &x[ln];
            if (*xs >= (f << (31 - P))) {
                words[nw++] = (uint16_t)(*xs & 0xffff);
                *xs >>= 16;
            }
            *xs = (*xs / f) * (1u << P) + (*xs % f) + st;
        }
        (void)r;
        ZWF_CHECK(nw <= n, "%zu words for %zu symbols", nw, n);
        for (l = 0; l < ZW_LANES; l++) zw_wr32(pay + pos + 4 * (size_t)l, x[l]);
        pos += 4 * ZW_LANES;
        for (i = nw; i-- > 0;) {
            pay[pos++] = (uint8_t)words[i];
            pay[pos++] = (uint8_t)(words[i] >> 8);
        }
        free(words);
    } else {
        int l, rawst = (int)(zwf_u8(&in) & 1);
        for (l = 0; l < ZW_LANES; l++) {
            uint32_t x = zwf_u32(&in);
            if (!rawst) x = ZW_L + x % ((1u << 31) - ZW_L);
            zw_wr32(pay + pos + 4 * (size_t)l, x);
        }
        pos += 4 * ZW_LANES;
        {
            size_t nw = zwf_left(&in) / 2;
            if (nw > 2 * n + 16) nw = 2 * n + 16;
            for (j = 0; j < nw; j++) {
                uint32_t v = zwf_u16(&in);
                pay[pos++] = (uint8_t)v;
                pay[pos++] = (uint8_t)(v >> 8);
            }
        }
    }
    ZWF_CHECK(pos <= cap, "payload buffer overflow in the target (%zu > %zu)", pos, cap);
    if (flags & HMUT) {
        if (zwf_u8(&in) & 1)
            pos = pos ? (size_t)zwf_u32(&in) % pos : 0; /* cut */
        else
            for (k = 0; k < 1 + (int)(zwf_u8(&in) & 3) && pos; k++) pay[(size_t)zwf_u32(&in) % pos] ^= (uint8_t)(zwf_u8(&in) | 1);
    }
    p = zwf_dup(pay, pos);
    {
        size_t nbytes = n * (size_t)vs;
        uint8_t *bs = zwf_dup(basebuf, nbytes);
        dst = zwf_alloc(nbytes);
        rc = zw_delta_decode(p, pos, bs, nbytes, kind, dst, nbytes, &e);
        if (valid)
            ZWF_CHECK(rc == 0, "valid payload rejected (kind %d op %d n %zu C %d elo %d P %d): %s", kind, op, n, C, elo,
                      P, e.msg);
        if (rc == 0 && valid)
            ZWF_CHECK(memcmp(dst, exp_, nbytes) == 0, "decoded values differ (kind %d op %d n %zu C %d elo %d P %d)",
                      kind, op, n, C, elo, P);
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
            int rc2 = zw_delta_decode(p, pos, bs, nbytes, kind, d2, nbytes, &e2);
            zwf_path_leave(s);
            ZWF_CHECK(rc2 == rc, "path %d returns %d, default path %d (%s)", (int)paths[k], rc2, rc,
                      rc ? e.msg : e2.msg);
            if (rc)
                ZWF_CHECK(e2.code == e.code, "path %d error code %d vs %d: %s / %s", (int)paths[k], (int)e2.code,
                          (int)e.code, e2.msg, e.msg);
            else
                ZWF_CHECK(memcmp(dst, d2, nbytes) == 0, "path %d decodes different bytes", (int)paths[k]);
            free(d2);
        }
        free(bs);
        free(dst);
    }
    free(p);
    free(pay);
    free(basebuf);
    free(exp_);
    free(tok);
    free(ctxof);
    free(zv);
    return 0;
}
