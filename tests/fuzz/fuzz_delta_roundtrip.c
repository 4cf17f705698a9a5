/* Round trip through the delta coder: zw_delta_encode of a chunk against its base
 * (BF16, F16, F32), then zw_delta_decode; the bytes must come back exactly, the payload
 * must fit zw_delta_bound and be well-formed (kind, op <= 1, n, 1 <= C <= 16, P = 11),
 * and the encoder must write the very same payload on another SIMD path (its counting,
 * token and rANS passes have SIMD versions for 16-bit values) and decode on it.
 * Byte 0: bits 0-1 the kind (3: F32 as well), bit 2 set: the chunk and base are
 * synthesized (below), else the rest of the input is the base followed by the chunk;
 * bit 3: encode twice on the default path and require the same payload; bit 4: which
 * other path. Synthesized: a value count (below 2^13, or 2^16 .. 2^17 for 1 in 16), a
 * few base exponents with their odds, then edits of the base: the share kept, moves of
 * a few ULPs or of any size, sign flips, low bits flipped (XOR-like), special values
 * (NaN with payloads, +-inf, +-0, subnormals) in the base or the chunk, drawn by a PRNG
 * seeded from the input. */
#include "zwfuzz.h"

static uint32_t special(int W)
{
    static const uint32_t sp32[8] = {0x7f800000u, 0xff800000u, 0x7fc00001u, 0xffc12345u,
                                     0x0u,        0x80000000u, 0x00000001u, 0x807fffffu};
    uint32_t v = sp32[zwf_rnd() % 8];
    return W == 32 ? v : v >> 16 | (v & 1);
}

static size_t synth(zwf_in *in, int kind, uint8_t **tp, uint8_t **bp)
{
    const int W = kind == 2 ? 32 : 16, EB = kind == 1 ? 5 : 8, mb = W - 1 - EB, vs = W / 8;
    const uint32_t Mk = W == 32 ? 0xffffffffu : 0xffffu;
    int ne = 1 + (int)(zwf_u8(in) % 8), k;
    size_t n = zwf_u16(in), j;
    uint32_t ex[8], odds[8], tot = 0, keep = zwf_u8(in), ulp = zwf_u8(in), far = zwf_u8(in) & 31,
             flip = zwf_u8(in) & 15, xr = zwf_u8(in) & 63, spec = zwf_u8(in) & 15;
    uint8_t *t, *b;
    for (k = 0; k < ne; k++) {
        ex[k] = zwf_u8(in) & ((1u << EB) - 1);
        odds[k] = 1 + zwf_u8(in);
        tot += odds[k];
    }
    if ((zwf_u8(in) & 15) == 15)
        n |= (size_t)1 << 16; /* 1 in 16: 64 Ki .. 128 Ki values, many blocks */
    else
        n &= 0x1fff;
    zwf_seed(zwf_u32(in));
    t = zwf_alloc(n * (size_t)vs);
    b = zwf_alloc(n * (size_t)vs);
    for (j = 0; j < n; j++) {
        uint32_t pick = zwf_rnd() % tot, e = ex[0], bv, tv, r = zwf_rnd() % 256;
        for (k = 0; k < ne; k++) {
            if (pick < odds[k]) {
                e = ex[k];
                break;
            }
            pick -= odds[k];
        }
        bv = ((zwf_rnd() & 1u) << (W - 1)) | (e << mb) | (zwf_rnd() & ((1u << mb) - 1));
        if (spec && zwf_rnd() % 256 < spec) bv = special(W);
        if (r < keep)
            tv = bv;
        else if (r < keep + ulp) /* a few ULPs, across zero and the NaNs as the order map goes */
            tv = (bv + (zwf_rnd() % 7) - 3) & Mk;
        else if (zwf_rnd() % 32 < far)
            tv = (bv + (zwf_rnd() & Mk) * (zwf_rnd() % 2)) & Mk;
        else if (zwf_rnd() % 64 < xr)
            tv = bv ^ (zwf_rnd() & 15);
        else
            tv = bv;
        if (flip && zwf_rnd() % 64 < flip) tv ^= 1u << (W - 1);
        if (spec && zwf_rnd() % 256 < spec) tv = special(W);
        if (W == 32) {
            memcpy(t + 4 * j, &tv, 4);
            memcpy(b + 4 * j, &bv, 4);
        } else {
            uint16_t h = (uint16_t)tv, g = (uint16_t)bv;
            memcpy(t + 2 * j, &h, 2);
            memcpy(b + 2 * j, &g, 2);
        }
    }
    *tp = t;
    *bp = b;
    return n * (size_t)vs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zwf_in in = {data, size, 0};
    uint32_t b0 = zwf_u8(&in);
    int kind = (int)(b0 & 3) == 3 ? 2 : (int)(b0 & 3), vs = kind == 2 ? 4 : 2, k, np, rc;
    size_t nb, bound, len;
    uint8_t *src, *base, *enc, *p, *dst;
    zw_err e;
    zwf_path paths[2];
    zwf_init();
    if (b0 & 4)
        nb = synth(&in, kind, &src, &base);
    else {
        nb = zwf_left(&in) / (size_t)(2 * vs) * (size_t)vs;
        base = zwf_dup(data + in.pos, nb);
        src = zwf_dup(data + in.pos + nb, nb);
    }
    bound = zw_delta_bound(nb);
    enc = zwf_alloc(bound);
    len = zw_delta_encode(src, base, nb, kind, enc, &e);
    ZWF_CHECK(len != (size_t)-1, "encoder refused %zu bytes (kind %d): %s", nb, kind, e.msg);
    ZWF_CHECK(len <= bound, "payload of %zu bytes exceeds the bound %zu", len, bound);
    ZWF_CHECK(len >= 13 && enc[0] == kind && enc[1] <= 1 && zw_rd32(enc + 2) == nb / (size_t)vs && enc[6] >= 1 &&
                  enc[6] <= ZW_DMAXCTX && enc[8] == 11,
              "malformed header (kind %d: %d %d %u %d %d %d)", kind, enc[0], enc[1], zw_rd32(enc + 2), enc[6], enc[7],
              enc[8]);
    if (b0 & 8) {
        uint8_t *enc2 = zwf_alloc(bound);
        size_t len2 = zw_delta_encode(src, base, nb, kind, enc2, &e);
        ZWF_CHECK(len2 == len && memcmp(enc, enc2, len) == 0, "encoder not deterministic (kind %d)", kind);
        free(enc2);
    }
    p = zwf_dup(enc, len);
    dst = zwf_alloc(nb);
    rc = zw_delta_decode(p, len, base, nb, kind, dst, nb, &e);
    ZWF_CHECK(rc == 0, "own payload rejected (kind %d, %zu bytes, op %d): %s", kind, nb, p[1], e.msg);
    ZWF_CHECK(memcmp(dst, src, nb) == 0, "round trip differs (kind %d, %zu bytes, op %d)", kind, nb, p[1]);
    np = zwf_other_paths(paths);
    if (np > 1) { /* one other path per input, the fuzzer's choice (speed) */
        paths[0] = paths[(b0 >> 4) % (uint32_t)np];
        np = 1;
    }
    for (k = 0; k < np; k++) {
        uint8_t *enc2 = zwf_alloc(bound);
        size_t len2;
        zwf_envsave s = zwf_path_enter(paths[k]);
        len2 = zw_delta_encode(src, base, nb, kind, enc2, &e);
        memset(dst, 0xa5, nb);
        rc = zw_delta_decode(p, len, base, nb, kind, dst, nb, &e);
        zwf_path_leave(s);
        ZWF_CHECK(len2 == len && memcmp(enc, enc2, len) == 0, "path %d codes another payload (kind %d)",
                  (int)paths[k], kind);
        ZWF_CHECK(rc == 0 && memcmp(dst, src, nb) == 0, "path %d round trip differs", (int)paths[k]);
        free(enc2);
    }
    free(src);
    free(base);
    free(enc);
    free(p);
    free(dst);
    return 0;
}
