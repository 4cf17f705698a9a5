#include "planes.h"
#include <string.h>

static inline uint16_t rotl16(uint16_t v) { return (uint16_t)((v << 1) | (v >> 15)); }
static inline uint16_t rotr16(uint16_t v) { return (uint16_t)((v >> 1) | (v << 15)); }
static inline uint32_t rotl32(uint32_t v) { return (v << 1) | (v >> 31); }
static inline uint32_t rotr32(uint32_t v) { return (v >> 1) | (v << 31); }
static inline uint64_t rotl64(uint64_t v) { return (v << 1) | (v >> 63); }
static inline uint64_t rotr64(uint64_t v) { return (v >> 1) | (v << 63); }

/* Values are read with memcpy so unaligned buffers are fine; the compiler turns the
 * fixed-size copies into plain loads. Little-endian hosts only (checked at import).
 * zw_merge_planes mirrors this function case by case on purpose: each is the other's
 * inverse, read side by side (one generic loop over itemsize would be 2-4x slower). */
void zw_split_planes(const uint8_t *src, size_t n, int itemsize, int rotate, uint8_t *dst)
{
    size_t i;
    switch (itemsize) {
    case 1:
        memcpy(dst, src, n);
        return;
    case 2: {
        uint8_t *hi = dst, *lo = dst + n;
        for (i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            if (rotate) v = rotl16(v);
            hi[i] = (uint8_t)(v >> 8);
            lo[i] = (uint8_t)v;
        }
        return;
    }
    case 4:
        for (i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            if (rotate) v = rotl32(v);
            dst[i] = (uint8_t)(v >> 24);
            dst[n + i] = (uint8_t)(v >> 16);
            dst[2 * n + i] = (uint8_t)(v >> 8);
            dst[3 * n + i] = (uint8_t)v;
        }
        return;
    case 8:
        for (i = 0; i < n; i++) {
            uint64_t v;
            int p;
            memcpy(&v, src + 8 * i, 8);
            if (rotate) v = rotl64(v);
            for (p = 0; p < 8; p++) dst[(size_t)p * n + i] = (uint8_t)(v >> (56 - 8 * p));
        }
        return;
    }
}

void zw_merge_planes(const uint8_t *src, size_t n, int itemsize, int rotate, uint8_t *dst)
{
    size_t i;
    switch (itemsize) {
    case 1:
        memcpy(dst, src, n);
        return;
    case 2: {
        const uint8_t *hi = src, *lo = src + n;
        for (i = 0; i < n; i++) {
            uint16_t v = (uint16_t)((hi[i] << 8) | lo[i]);
            if (rotate) v = rotr16(v);
            memcpy(dst + 2 * i, &v, 2);
        }
        return;
    }
    case 4:
        for (i = 0; i < n; i++) {
            uint32_t v = ((uint32_t)src[i] << 24) | ((uint32_t)src[n + i] << 16) |
                         ((uint32_t)src[2 * n + i] << 8) | (uint32_t)src[3 * n + i];
            if (rotate) v = rotr32(v);
            memcpy(dst + 4 * i, &v, 4);
        }
        return;
    case 8:
        for (i = 0; i < n; i++) {
            uint64_t v = 0;
            int p;
            for (p = 0; p < 8; p++) v |= (uint64_t)src[(size_t)p * n + i] << (56 - 8 * p);
            if (rotate) v = rotr64(v);
            memcpy(dst + 8 * i, &v, 8);
        }
        return;
    }
}
