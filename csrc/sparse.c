/* Bitmap sparse layout (spec/FORMAT.md, SPARSE): split a chunk into a bitmap of its
 * non-zero values (bit i % 8 of byte i / 8, LSB first) and the non-zero values packed
 * in order; merge puts them back. "Zero" is all bits zero, so -0.0 is a value. */
#include <string.h>

#include "zw.h"

/* one loop per value width, so each value is one load, one compare and one store; the
 * store happens whatever the value (vals has room for all m values) and the output
 * position only advances past non-zero ones */
#define SPLIT_LOOP(T)                                                                    \
    do {                                                                                 \
        const T *sv = (const T *)(const void *)src;                                      \
        T *dv = (T *)(void *)vals;                                                       \
        for (i = 0; i + 8 <= m; i += 8) {                                                \
            unsigned b = 0, j;                                                           \
            for (j = 0; j < 8; j++) {                                                    \
                T v;                                                                     \
                memcpy(&v, sv + i + j, sizeof v);                                        \
                memcpy(dv + k, &v, sizeof v);                                            \
                k += v != 0;                                                             \
                b |= (unsigned)(v != 0) << j;                                            \
            }                                                                            \
            bitmap[i >> 3] = (uint8_t)b;                                                 \
        }                                                                                \
        if (i < m) bitmap[i >> 3] = 0;                                                   \
        for (; i < m; i++) {                                                             \
            T v;                                                                         \
            memcpy(&v, sv + i, sizeof v);                                                \
            memcpy(dv + k, &v, sizeof v);                                                \
            k += v != 0;                                                                 \
            bitmap[i >> 3] |= (uint8_t)((v != 0) << (i & 7));                            \
        }                                                                                \
    } while (0)

size_t zw_sparse_split(const uint8_t *src, size_t m, int unit, uint8_t *bitmap, uint8_t *vals)
{
    size_t i, k = 0;
    switch (unit) {
    case 1: SPLIT_LOOP(uint8_t); break;
    case 2: SPLIT_LOOP(uint16_t); break;
    case 4: SPLIT_LOOP(uint32_t); break;
    default: SPLIT_LOOP(uint64_t); break;
    }
    return k;
}

int zw_sparse_merge(const uint8_t *bitmap, size_t blen, const uint8_t *vals, size_t nnz, int unit,
                    uint8_t *out, size_t m, zw_err *e)
{
    size_t i, k = 0, set = 0;
    if (blen != (m + 7) / 8)
        return zw_fail(e, ZW_ECORRUPT, "bitmap holds %zu bytes, expected %zu", blen, (m + 7) / 8);
    for (i = 0; i < blen; i++) set += (size_t)__builtin_popcount(bitmap[i]);
    if ((m & 7) && (bitmap[blen - 1] >> (m & 7)))
        return zw_fail(e, ZW_ECORRUPT, "bitmap has bits set past the last value");
    if (set != nnz) return zw_fail(e, ZW_ECORRUPT, "bitmap marks %zu values, %zu stored", set, nnz);
    if (unit == 2 && zw_have_avx2()) {
        /* whole bitmap bytes, as many at a time as can each read 8 values (16 bytes)
         * inside vals: a byte takes at most 8 values */
        size_t full = m / 8, step;
        i = 0;
        while (i < full && (step = (nnz - k) / 8) > 0) {
            if (step > full - i) step = full - i;
            k += zw_sparse_merge16_avx2(bitmap + i, step, vals + 2 * k, out + 16 * i);
            i += step;
        }
        for (i *= 8; i < m; i++) {
            if ((bitmap[i >> 3] >> (i & 7)) & 1) {
                memcpy(out + 2 * i, vals + 2 * k, 2);
                k++;
            } else
                memset(out + 2 * i, 0, 2);
        }
        return 0;
    }
    for (i = 0; i < m; i++) {
        uint8_t *o = out + i * (size_t)unit;
        if ((bitmap[i >> 3] >> (i & 7)) & 1) {
            memcpy(o, vals + k * (size_t)unit, (size_t)unit);
            k++;
        } else
            memset(o, 0, (size_t)unit);
    }
    return 0;
}
