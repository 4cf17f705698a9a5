/* zw_ent_decode on raw bytes. The input is the payload (real ENT plane payloads and the
 * F32 byte planes are the seeds); the destination size is the payload's own byte count
 * when plausible, else a mismatching size. Successful decodes are repeated on the other
 * SIMD paths: same bytes required. */
#include "zwfuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc, k, np;
    size_t n;
    uint8_t *dst;
    zw_err e;
    zwf_path paths[2];
    zwf_init();
    n = size >= 5 ? zw_rd32(data + 1) : size;
    if (n > 16 * (size_t)size + 65536) n = size & 1023;
    dst = zwf_alloc(n);
    rc = zw_ent_decode(data, size, dst, n, &e);
    if (rc == 0) {
        ZWF_CHECK(size >= 5 && data[0] <= 2, "mode %d accepted", size ? data[0] : -1);
        np = zwf_other_paths(paths);
        for (k = 0; k < np; k++) {
            uint8_t *d2 = zwf_alloc(n);
            zwf_envsave s = zwf_path_enter(paths[k]);
            int rc2 = zw_ent_decode(data, size, d2, n, &e);
            zwf_path_leave(s);
            ZWF_CHECK(rc2 == 0, "path %d rejects what the default path decodes: %s", (int)paths[k], e.msg);
            ZWF_CHECK(memcmp(dst, d2, n) == 0, "path %d decodes different bytes", (int)paths[k]);
            free(d2);
        }
    } else {
        ZWF_CHECK(e.code > ZW_OK && e.code < ZW_NCODES, "error without a code: %s", e.msg);
    }
    free(dst);
    return 0;
}
