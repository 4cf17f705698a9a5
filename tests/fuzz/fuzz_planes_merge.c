/* zw_merge_planes (the PLANES codec's last stage) on arbitrary planes: byte 0 picks the
 * item size (1, 2, 4, 8) and the sign rotation, the rest (cut to whole values) is the
 * planes. Checked: exact-size buffers (ASan), and zw_split_planes gives the planes back
 * (merge and split are inverses). */
#include "zwfuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int sizes[4] = {1, 2, 4, 8};
    int itemsize, rotate;
    size_t n, nb;
    uint8_t *src, *dst, *back;
    zwf_init();
    if (size < 1) return 0;
    itemsize = sizes[data[0] & 3];
    rotate = (data[0] >> 2) & 1;
    n = (size - 1) / (size_t)itemsize;
    nb = n * (size_t)itemsize;
    src = zwf_dup(data + 1, nb);
    dst = zwf_alloc(nb);
    back = zwf_alloc(nb);
    zw_merge_planes(src, n, itemsize, rotate, dst);
    zw_split_planes(dst, n, itemsize, rotate, back);
    ZWF_CHECK(memcmp(src, back, nb) == 0, "split(merge(planes)) != planes (itemsize %d rotate %d n %zu)",
              itemsize, rotate, n);
    if (itemsize > 1 && n) { /* value 0 from its planes, by the spec (FORMAT.md 7.2) */
        uint64_t v = 0, r;
        int p, bits = 8 * itemsize;
        for (p = 0; p < itemsize; p++) v = (v << 8) | src[(size_t)p * n];
        r = rotate ? ((v >> 1) | (v << (bits - 1))) : v;
        if (bits < 64) r &= ((uint64_t)1 << bits) - 1;
        for (p = 0; p < itemsize; p++)
            ZWF_CHECK(dst[p] == (uint8_t)(r >> (8 * p)), "value 0 byte %d wrong", p);
    }
    free(src);
    free(dst);
    free(back);
    return 0;
}
