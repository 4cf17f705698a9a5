/* zw_sparse_merge (the SPARSE codec's scatter) on arbitrary bitmaps and values.
 * Byte 0: bits 0-1 the unit (1, 2, 4, 8); bit 2 set: the value count agrees with the
 * bitmap (the deep path, where the AVX2 merge runs); bit 3: the bitmap is one byte off
 * (bit 4 with it: one byte short); bit 5: m may reach 65535 (else below 4096).
 * Bytes 1-2: m, the number of values; bytes 3-4: the value count when it need not agree.
 * Then the bitmap, then the values (zero-padded to their exact sizes). A merge that
 * succeeds must equal a plain scatter written from spec/FORMAT.md 7.4, on every SIMD
 * path of the machine. */
#include "zwfuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int units[4] = {1, 2, 4, 8};
    zwf_in in = {data, size, 0};
    uint32_t b0 = zwf_u8(&in);
    int unit = units[b0 & 3], agree = (b0 >> 2) & 1, off = (b0 >> 3) & 1, rc, k, np;
    size_t m = zwf_u16(&in), nraw = zwf_u16(&in), blen, nnz, i, set = 0;
    if (!(b0 & 32)) m &= 0xfff; /* bit 5: up to 65535 values, else below 4096 (speed) */
    uint8_t *bm, *vals, *out, *ref;
    zw_err e;
    zwf_path paths[2];
    zwf_init();
    blen = (m + 7) / 8 + (off ? 1 : 0);
    if (off && (b0 & 16) && blen >= 2) blen -= 2;
    bm = zwf_alloc(blen);
    for (i = 0; i < blen; i++) bm[i] = (uint8_t)zwf_u8(&in);
    if (agree && blen == (m + 7) / 8 && (m & 7) && blen) bm[blen - 1] &= (uint8_t)((1u << (m & 7)) - 1);
    for (i = 0; i < blen; i++) set += (size_t)__builtin_popcount(bm[i]);
    nnz = agree ? set : nraw % (m + 2);
    vals = zwf_alloc(nnz * (size_t)unit);
    for (i = 0; i < nnz * (size_t)unit; i++) vals[i] = (uint8_t)zwf_u8(&in);
    out = zwf_alloc(m * (size_t)unit);
    rc = zw_sparse_merge(bm, blen, vals, nnz, unit, out, m, &e);
    if (rc == 0) {
        size_t kk = 0;
        ZWF_CHECK(blen == (m + 7) / 8 && set == nnz, "inconsistent bitmap accepted");
        ref = zwf_alloc(m * (size_t)unit);
        for (i = 0; i < m; i++) {
            if ((bm[i >> 3] >> (i & 7)) & 1) {
                memcpy(ref + i * unit, vals + kk * unit, (size_t)unit);
                kk++;
            } else
                memset(ref + i * unit, 0, (size_t)unit);
        }
        ZWF_CHECK(memcmp(out, ref, m * (size_t)unit) == 0, "merge differs from the scatter (unit %d m %zu)", unit, m);
        np = zwf_other_paths(paths);
        for (k = 0; k < np; k++) {
            zwf_envsave s = zwf_path_enter(paths[k]);
            int rc2 = zw_sparse_merge(bm, blen, vals, nnz, unit, out, m, &e);
            zwf_path_leave(s);
            ZWF_CHECK(rc2 == 0 && memcmp(out, ref, m * (size_t)unit) == 0, "path %d differs", (int)paths[k]);
        }
        free(ref);
    } else {
        ZWF_CHECK(e.code == ZW_ECORRUPT, "unexpected error code %d: %s", (int)e.code, e.msg);
    }
    free(bm);
    free(vals);
    free(out);
    return 0;
}
