/* zw_float_decode on raw bytes (all three kinds). The input is the payload itself, so
 * real FLOAT chunk payloads are the seeds. The destination size is taken from the
 * payload's own value count when it is plausible (so the size check passes and the
 * fuzzer reaches the tables and the rANS stream), else a mismatching size. A decode that
 * succeeds is repeated on the other SIMD paths of this machine: same bytes required. */
#include "zwfuzz.h"

static int decode(const uint8_t *p, size_t len, int kind, uint8_t *dst, size_t nbytes, zw_err *e)
{
    return zw_float_decode(p, len, kind, dst, nbytes, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int kind, rc, k, np;
    size_t vs, n, nbytes;
    uint8_t *dst;
    zw_err e;
    zwf_path paths[2];
    zwf_init();
    if (size < 1) {
        ZWF_CHECK(decode(data, 0, 0, NULL, 0, &e) != 0, "empty payload decoded");
        return 0;
    }
    kind = data[0] & 3; /* 3: an unsupported kind */
    vs = kind == 2 ? 4 : 2;
    n = size >= 6 ? zw_rd32(data + 2) : size;
    nbytes = n * vs;
    if (n > 16 * (size_t)size + 65536) nbytes = (size & 1023) * vs; /* implausible: mismatch */
    dst = zwf_alloc(nbytes);
    rc = decode(data, size, kind, dst, nbytes, &e);
    if (rc == 0) {
        ZWF_CHECK(kind < 3 && data[0] == kind, "kind %d accepted", data[0]);
        np = zwf_other_paths(paths);
        for (k = 0; k < np; k++) {
            uint8_t *d2 = zwf_alloc(nbytes);
            zwf_envsave s = zwf_path_enter(paths[k]);
            int rc2 = decode(data, size, kind, d2, nbytes, &e);
            zwf_path_leave(s);
            ZWF_CHECK(rc2 == 0, "path %d rejects what the default path decodes: %s", (int)paths[k], e.msg);
            ZWF_CHECK(memcmp(dst, d2, nbytes) == 0, "path %d decodes different bytes", (int)paths[k]);
            free(d2);
        }
    } else {
        ZWF_CHECK(e.code > ZW_OK && e.code < ZW_NCODES, "error without a code: %s", e.msg);
    }
    free(dst);
    return 0;
}
