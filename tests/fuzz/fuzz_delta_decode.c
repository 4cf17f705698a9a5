/* zw_delta_decode on raw bytes (BF16, F16, F32 and an invalid kind). Input: byte 0 the
 * kind (& 3; 3 is unsupported) and flags, a u16 payload length, the payload, then the
 * base: the rest of the input, repeated to the destination's size (so real payloads
 * with their base chunks are the seeds, and a short input still gets a base). The
 * destination size is the payload's own value count when plausible (so the size check
 * passes and the fuzzer reaches the tables, the extra bits and the rANS stream), else a
 * mismatch; flag 4 makes the base one value short (an argument error). Every input is
 * decoded again on the other SIMD paths of the machine: the same return, error code and
 * bytes are required (the SIMD path has its own tables and block loop). */
#include "zwfuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int kind, rc, k, np;
    size_t vs, n, nbytes, plen, blen, j, rest;
    uint8_t *pay, *base, *dst;
    zw_err e;
    zwf_path paths[2];
    zwf_init();
    if (size < 3) {
        ZWF_CHECK(zw_delta_decode(data, size, NULL, 0, 0, NULL, 0, &e) != 0, "empty payload decoded");
        return 0;
    }
    kind = data[0] & 3;
    vs = kind == 2 ? 4 : 2;
    plen = (size_t)data[1] | ((size_t)data[2] << 8);
    if (plen > size - 3) plen = size - 3;
    pay = zwf_dup(data + 3, plen);
    rest = size - 3 - plen;
    n = plen >= 6 ? zw_rd32(pay + 2) : plen;
    if (n > 16 * (size_t)plen + 65536) n = plen & 1023; /* implausible: a mismatch */
    nbytes = n * vs;
    blen = (data[0] & 4) && nbytes ? nbytes - vs : nbytes;
    base = zwf_alloc(blen);
    for (j = 0; j < blen; j++) base[j] = rest ? data[3 + plen + j % rest] : 0;
    dst = zwf_alloc(nbytes);
    rc = zw_delta_decode(pay, plen, base, blen, kind, dst, nbytes, &e);
    if (rc == 0)
        ZWF_CHECK(kind < 3 && pay[0] == kind && blen == nbytes, "kind %d / base %zu of %zu accepted", kind, blen,
                  nbytes);
    else
        ZWF_CHECK(e.code > ZW_OK && e.code < ZW_NCODES, "error without a code: %s", e.msg);
    np = zwf_other_paths(paths);
    for (k = 0; k < np; k++) {
        uint8_t *d2 = zwf_alloc(nbytes);
        zw_err e2;
        zwf_envsave s = zwf_path_enter(paths[k]);
        int rc2 = zw_delta_decode(pay, plen, base, blen, kind, d2, nbytes, &e2);
        zwf_path_leave(s);
        ZWF_CHECK(rc2 == rc, "path %d returns %d, the default path %d (%s)", (int)paths[k], rc2, rc,
                  rc ? e.msg : e2.msg);
        if (rc)
            ZWF_CHECK(e2.code == e.code, "path %d error code %d, the default path %d: %s / %s", (int)paths[k],
                      (int)e2.code, (int)e.code, e2.msg, e.msg);
        else
            ZWF_CHECK(memcmp(dst, d2, nbytes) == 0, "path %d decodes different bytes", (int)paths[k]);
        free(d2);
    }
    free(pay);
    free(base);
    free(dst);
    return 0;
}
