"""Byte planes (csrc/planes.c) and the bitmap sparse layout (csrc/sparse.c)."""

from __future__ import annotations

import numpy as np

from . import errs as E
from .rans import jit


@jit
def _load(src, o, itemsize):
    v = np.uint64(0)
    for b in range(itemsize):
        v |= np.uint64(src[o + b]) << np.uint64(8 * b)
    return v


@jit
def split_planes(src, n, itemsize, rotate, dst):
    """values -> planes, most significant byte first; with rotate, each value rotated
    left by one bit first (the sign into bit 0)"""
    if itemsize == 1:
        dst[:n] = src[:n]
        return
    bits = np.uint64(8 * itemsize)
    top = np.uint64(bits - np.uint64(1))
    mask = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - 8 * itemsize)
    for i in range(n):
        v = _load(src, itemsize * i, itemsize)
        if rotate:
            v = ((v << np.uint64(1)) | (v >> top)) & mask
        for p in range(itemsize):
            dst[p * n + i] = (v >> np.uint64(8 * (itemsize - 1 - p))) & np.uint64(0xFF)


@jit
def merge_planes(src, n, itemsize, rotate, dst):
    if itemsize == 1:
        dst[:n] = src[:n]
        return
    bits = np.uint64(8 * itemsize)
    top = np.uint64(bits - np.uint64(1))
    for i in range(n):
        v = np.uint64(0)
        for p in range(itemsize):
            v |= np.uint64(src[p * n + i]) << np.uint64(8 * (itemsize - 1 - p))
        if rotate:
            v = (v >> np.uint64(1)) | ((v & np.uint64(1)) << top)
        o = itemsize * i
        for b in range(itemsize):
            dst[o + b] = (v >> np.uint64(8 * b)) & np.uint64(0xFF)


@jit
def sparse_split(src, m, unit, bitmap, vals):
    """bitmap of the non-zero values (LSB first) and those values packed; their count"""
    k = 0
    for i in range(m):
        o = i * unit
        nz = False
        for b in range(unit):
            if src[o + b]:
                nz = True
                break
        if (i & 7) == 0:
            bitmap[i >> 3] = 0
        if nz:
            bitmap[i >> 3] |= 1 << (i & 7)
            vals[k * unit:(k + 1) * unit] = src[o:o + unit]
            k += 1
    return k


@jit
def sparse_merge(bitmap, blen, vals, nnz, unit, out, m, info):
    if blen != (m + 7) // 8:
        info[0] = blen
        info[1] = (m + 7) // 8
        return E.S_BITMAP_LEN
    total = 0
    for i in range(blen):
        b = np.int64(bitmap[i])
        while b:
            b &= b - 1
            total += 1
    if (m & 7) and (np.int64(bitmap[blen - 1]) >> (m & 7)):
        return E.S_PAST
    if total != nnz:
        info[0] = total
        info[1] = nnz
        return E.S_MARKS
    k = 0
    for i in range(m):
        o = i * unit
        if (bitmap[i >> 3] >> (i & 7)) & 1:
            out[o:o + unit] = vals[k * unit:(k + 1) * unit]
            k += 1
        else:
            out[o:o + unit] = 0
    return 0
