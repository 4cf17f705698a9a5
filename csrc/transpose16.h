/* The 16 x 16 transpose of 16-bit values shared by the AVX2 kernels (avx2.c, delta_avx2.c).
 * Included only inside their x86 branches, after <immintrin.h>. */
#ifndef ZW_TRANSPOSE_H
#define ZW_TRANSPOSE_H
#include <immintrin.h>

/* rows r[0..16) (row = step, 16 lanes each) -> r[k] = lane k's 16 steps */
__attribute__((target("avx2"))) static inline void transpose16(__m256i *r)
{
    __m256i a[16], b[16], c[16];
    int i;
    for (i = 0; i < 16; i += 2) {
        a[i] = _mm256_unpacklo_epi16(r[i], r[i + 1]);
        a[i + 1] = _mm256_unpackhi_epi16(r[i], r[i + 1]);
    }
    for (i = 0; i < 16; i += 4) {
        b[i] = _mm256_unpacklo_epi32(a[i], a[i + 2]);
        b[i + 1] = _mm256_unpackhi_epi32(a[i], a[i + 2]);
        b[i + 2] = _mm256_unpacklo_epi32(a[i + 1], a[i + 3]);
        b[i + 3] = _mm256_unpackhi_epi32(a[i + 1], a[i + 3]);
    }
    for (i = 0; i < 16; i += 8) {
        c[i] = _mm256_unpacklo_epi64(b[i], b[i + 4]);
        c[i + 1] = _mm256_unpackhi_epi64(b[i], b[i + 4]);
        c[i + 2] = _mm256_unpacklo_epi64(b[i + 1], b[i + 5]);
        c[i + 3] = _mm256_unpackhi_epi64(b[i + 1], b[i + 5]);
        c[i + 4] = _mm256_unpacklo_epi64(b[i + 2], b[i + 6]);
        c[i + 5] = _mm256_unpackhi_epi64(b[i + 2], b[i + 6]);
        c[i + 6] = _mm256_unpacklo_epi64(b[i + 3], b[i + 7]);
        c[i + 7] = _mm256_unpackhi_epi64(b[i + 3], b[i + 7]);
    }
    for (i = 0; i < 8; i++) {
        r[i] = _mm256_permute2x128_si256(c[i], c[i + 8], 0x20);
        r[i + 8] = _mm256_permute2x128_si256(c[i], c[i + 8], 0x31);
    }
}
#endif
