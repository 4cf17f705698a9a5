/* Puts the cases of tests/platforms/make_fixtures.py to a build of csrc/ without Python
 * (a cross-compiled one, run under qemu-user: tests/platforms/aarch64.sh) and compares
 * the answers byte for byte: the bytes each kernel gives, or its error's class (zw_code,
 * grouped as the Python exceptions are) and message.
 *
 *   kernel_driver FIXTURES   -> "N cases, M failed"; exit 1 on any failure */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planes.h"
#include "zw.h"

enum { F_DEC = 1, F_ENC, E_DEC, E_ENC, D_DEC, D_ENC, P_MERGE, P_SPLIT, S_SPLIT, S_MERGE };

/* zw_code -> the Python class's group: 1 truncated, 2 corrupt (also trailing bytes and
 * size mismatch), 3 argument, 4 limit */
static int group(zw_code c)
{
    switch (c) {
    case ZW_ETRUNC: return 1;
    case ZW_ECORRUPT: case ZW_ETRAIL: case ZW_ESIZE: return 2;
    case ZW_EARG: return 3;
    case ZW_ELIMIT: return 4;
    default: return 9;
    }
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

int main(int argc, char **argv)
{
    FILE *f;
    long size;
    uint8_t *buf, *p, *end;
    uint32_t count, i, failed = 0, errors = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES\n", argv[0]);
        return 2;
    }
    zw_cpu_init();
    f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 8 || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size || memcmp(buf, "ZWFX", 4)) {
        fprintf(stderr, "%s: not a fixture file\n", argv[1]);
        return 2;
    }
    fclose(f);
    count = rd32(buf + 4);
    p = buf + 8;
    end = buf + size;
    for (i = 0; i < count; i++) {
        int op, kind, arg, code, got = 0, bad = 0;
        uint32_t ilen, blen, rlen, dlen;
        const uint8_t *in, *base, *res;
        uint8_t *out = NULL;
        size_t olen = 0, t;
        zw_err e;
        memset(&e, 0, sizeof e);
        if (end - p < 20) {
            fprintf(stderr, "case %u: fixture file cut short\n", i);
            return 2;
        }
        op = p[0], kind = p[1], arg = (int8_t)p[2], code = p[3];
        ilen = rd32(p + 4), blen = rd32(p + 8), rlen = rd32(p + 12), dlen = rd32(p + 16);
        p += 20;
        if ((uint64_t)ilen + blen + rlen > (uint64_t)(end - p)) {
            fprintf(stderr, "case %u: fixture file cut short\n", i);
            return 2;
        }
        in = p, base = p + ilen, res = p + ilen + blen;
        p += (size_t)ilen + blen + rlen;
        switch (op) {
        case F_DEC:
            out = malloc(dlen + 1), olen = dlen;
            got = zw_float_decode(in, ilen, kind, out, dlen, &e) ? -1 : 0;
            break;
        case F_ENC:
            if (zw_float_check(ilen, kind, &e)) { got = -1; break; }
            out = malloc(zw_float_bound(ilen));
            olen = zw_float_encode(in, ilen, kind, arg, out, &e);
            got = olen == (size_t)-1 ? -1 : 0;
            break;
        case E_DEC:
            out = malloc(dlen + 1), olen = dlen;
            got = zw_ent_decode(in, ilen, out, dlen, &e) ? -1 : 0;
            break;
        case E_ENC:
            out = malloc(zw_ent_bound(ilen));
            olen = zw_ent_encode(in, ilen, out);
            break;
        case D_DEC:
            out = malloc(dlen + 1), olen = dlen;
            got = zw_delta_decode(in, ilen, base, blen, kind, out, dlen, &e) ? -1 : 0;
            break;
        case D_ENC:
            if (zw_delta_check(ilen, blen, kind, &e)) { got = -1; break; }
            out = malloc(zw_delta_bound(ilen));
            olen = zw_delta_encode(in, base, ilen, kind, out, &e);
            got = olen == (size_t)-1 ? -1 : 0;
            break;
        case P_MERGE:
        case P_SPLIT:
            out = malloc(ilen + 1), olen = ilen;
            (op == P_MERGE ? zw_merge_planes : zw_split_planes)(in, ilen / (size_t)kind, kind, arg, out);
            break;
        case S_SPLIT: {
            size_t m = ilen / (size_t)kind, bl = (m + 7) / 8, nnz;
            out = malloc(4 + bl + ilen + 1);
            nnz = zw_sparse_split(in, m, kind, out + 4, out + 4 + bl);
            out[0] = (uint8_t)bl, out[1] = (uint8_t)(bl >> 8), out[2] = (uint8_t)(bl >> 16), out[3] = (uint8_t)(bl >> 24);
            olen = 4 + bl + nnz * (size_t)kind;
            break;
        }
        case S_MERGE:
            out = malloc(dlen + 1), olen = dlen;
            got = zw_sparse_merge(base, blen, in, ilen / (size_t)kind, kind, out, dlen / (size_t)kind, &e) ? -1 : 0;
            break;
        default:
            fprintf(stderr, "case %u: unknown op %d\n", i, op);
            return 2;
        }
        if (code) {
            errors++;
            t = strlen(e.msg);
            bad = got == 0 || group(e.code) != code || t != rlen || memcmp(e.msg, res, t);
            if (bad)
                fprintf(stderr, "case %u (op %d kind %d arg %d): expected error %d \"%.*s\", got %s %d \"%s\"\n", i, op,
                        kind, arg, code, (int)rlen, (const char *)res, got ? "error" : "success", group(e.code), e.msg);
        } else {
            bad = got != 0 || olen != rlen || memcmp(out, res, rlen);
            if (bad)
                fprintf(stderr, "case %u (op %d kind %d arg %d): expected %u bytes, got %s (%zu bytes) %s\n", i, op, kind,
                        arg, rlen, got ? "an error" : "success", got ? (size_t)0 : olen, got ? e.msg : "");
        }
        failed += (uint32_t)bad;
        free(out);
    }
    printf("%u cases (%u expected errors), %u failed\n", count, errors, failed);
    return failed ? 1 : 0;
}
