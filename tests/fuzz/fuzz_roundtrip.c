/* Round trip through the encoders: zw_float_encode (BF16, F16, F32, any level) and
 * zw_ent_encode, then the decoders; the bytes must come back exactly, the payload must
 * fit the published bound, and another SIMD path (bit 4 of byte 0 picks which) must
 * decode the same bytes.
 * Byte 0: bits 0-1 the coder (0 BF16, 1 F16, 2 F32, 3 ent); bit 2 set: the data are
 * synthesized (below), else the rest of the input is the data; bit 3: encode twice and
 * require the same payload (deterministic encoder). Byte 1: the level, as a signed byte.
 * Synthesized data (to reach the coded modes, which want >= 256 weight-like values): a
 * value count (below 2^13, or 2^16 .. 2^17 for 1 in 16), a few exponents with their odds, a mantissa mask, a sign-run
 * rate and a rate of special values (NaN with payloads, +-inf, +-0, subnormals), drawn
 * by a PRNG seeded from the input. */
#include "zwfuzz.h"

static size_t synth(zwf_in *in, int coder, uint8_t **out)
{
    int vs = coder == 2 ? 4 : coder == 3 ? 1 : 2, ne = 1 + (int)(zwf_u8(in) % 8), k, neg = 0;
    size_t n = zwf_u16(in), j;
    uint32_t ex[8], odds[8], tot = 0, mmask = zwf_u32(in), runs = zwf_u8(in), spec = zwf_u8(in) & 31;
    uint8_t *d;
    for (k = 0; k < ne; k++) {
        ex[k] = zwf_u8(in);
        odds[k] = 1 + zwf_u8(in);
        tot += odds[k];
    }
    if ((zwf_u8(in) & 15) == 15) n |= (size_t)1 << 16; /* 1 in 16: 64 Ki .. 128 Ki values */
    else n &= 0x1fff;
    zwf_seed(zwf_u32(in));
    d = zwf_alloc(n * (size_t)vs);
    for (j = 0; j < n; j++) {
        uint32_t pick = zwf_rnd() % tot, e = ex[0], m = zwf_rnd() & mmask, v;
        for (k = 0; k < ne; k++) {
            if (pick < odds[k]) {
                e = ex[k];
                break;
            }
            pick -= odds[k];
        }
        if (runs && zwf_rnd() % 256 < runs) neg = !neg;
        if (spec && zwf_rnd() % 1024 < spec) { /* a special value */
            static const uint32_t sp[6] = {0x7f800000u, 0xff800000u, 0x7fc00001u, 0x0u, 0x80000000u, 0x00000001u};
            v = sp[zwf_rnd() % 6] | (zwf_rnd() % 6 == 2 ? zwf_rnd() & 0x3fffff : 0);
        } else
            v = ((uint32_t)neg << 31) | ((e & 0xff) << 23) | (m & 0x7fffff);
        if (coder == 2)
            memcpy(d + 4 * j, &v, 4);
        else if (coder == 0) {
            uint16_t h = (uint16_t)(v >> 16);
            memcpy(d + 2 * j, &h, 2);
        } else if (coder == 1) {
            uint16_t h = (uint16_t)(((v >> 16) & 0x8000) | ((e & 31) << 10) | (m & 0x3ff));
            memcpy(d + 2 * j, &h, 2);
        } else
            d[j] = (uint8_t)(e + (m & 7));
    }
    *out = d;
    return n * (size_t)vs;
}

static int decode(int coder, const uint8_t *p, size_t len, uint8_t *dst, size_t nb, zw_err *e)
{
    return coder == 3 ? zw_ent_decode(p, len, dst, nb, e) : zw_float_decode(p, len, coder, dst, nb, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zwf_in in = {data, size, 0};
    uint32_t b0 = zwf_u8(&in);
    int coder = (int)(b0 & 3), level = (int)(int8_t)zwf_u8(&in), vs = coder == 2 ? 4 : coder == 3 ? 1 : 2;
    int k, np, rc;
    size_t nb, bound, len;
    uint8_t *src, *enc, *p, *dst;
    zw_err e;
    zwf_path paths[2];
    zwf_init();
    if (b0 & 4)
        nb = synth(&in, coder, &src);
    else {
        nb = zwf_left(&in) / (size_t)vs * (size_t)vs;
        src = zwf_dup(data + in.pos, nb);
    }
    bound = coder == 3 ? zw_ent_bound(nb) : zw_float_bound(nb);
    enc = zwf_alloc(bound);
    if (coder == 3)
        len = zw_ent_encode(src, nb, enc);
    else
        len = zw_float_encode(src, nb, coder, level, enc, &e);
    ZWF_CHECK(len != (size_t)-1, "encoder refused %zu bytes (coder %d level %d): %s", nb, coder, level,
              coder == 3 ? "" : e.msg);
    ZWF_CHECK(len <= bound, "payload of %zu bytes exceeds the bound %zu", len, bound);
    if (b0 & 8) {
        uint8_t *enc2 = zwf_alloc(bound);
        size_t len2 = coder == 3 ? zw_ent_encode(src, nb, enc2) : zw_float_encode(src, nb, coder, level, enc2, &e);
        ZWF_CHECK(len2 == len && memcmp(enc, enc2, len) == 0, "encoder not deterministic (coder %d level %d)", coder,
                  level);
        free(enc2);
    }
    p = zwf_dup(enc, len);
    dst = zwf_alloc(nb);
    rc = decode(coder, p, len, dst, nb, &e);
    ZWF_CHECK(rc == 0, "own payload rejected (coder %d level %d, %zu bytes, mode %d): %s", coder, level, nb,
              len > 1 ? p[coder == 3 ? 0 : 1] : -1, e.msg);
    ZWF_CHECK(memcmp(dst, src, nb) == 0, "round trip differs (coder %d level %d, %zu bytes)", coder, level, nb);
    np = zwf_other_paths(paths);
    if (np > 1) { /* one other path per input, the fuzzer's choice (speed) */
        paths[0] = paths[(b0 >> 4) % (uint32_t)np];
        np = 1;
    }
    for (k = 0; k < np; k++) {
        zwf_envsave s = zwf_path_enter(paths[k]);
        memset(dst, 0xa5, nb);
        rc = decode(coder, p, len, dst, nb, &e);
        zwf_path_leave(s);
        ZWF_CHECK(rc == 0 && memcmp(dst, src, nb) == 0, "path %d round trip differs", (int)paths[k]);
    }
    free(src);
    free(enc);
    free(p);
    free(dst);
    return 0;
}
