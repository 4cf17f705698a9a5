/* Byte-plane split and merge with an optional sign rotation. Plain C, no Python. */
#ifndef ZW_PLANES_H
#define ZW_PLANES_H
#include <stddef.h>
#include <stdint.h>

/* src holds n little-endian values of `itemsize` bytes (1, 2, 4 or 8). When `rotate`
 * is set each value is rotated left by one bit first, so the sign lands in bit 0 and
 * the exponent fills the top byte. dst receives `itemsize` planes of n bytes, most
 * significant byte first: dst[p*n + i] is byte (itemsize-1-p) of rotated value i. */
void zw_split_planes(const uint8_t *src, size_t n, int itemsize, int rotate, uint8_t *dst);

/* Exact inverse of zw_split_planes. */
void zw_merge_planes(const uint8_t *src, size_t n, int itemsize, int rotate, uint8_t *dst);

#endif
