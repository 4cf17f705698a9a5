"""The ent byte coder (spec/CODERS.md 2), as csrc/ent.c codes and checks it."""

from __future__ import annotations

import numpy as np

from . import errs as E
from .rans import (
    BLK,
    LANES,
    LOG2,
    PB,
    build_dtab_list,
    build_esym,
    bw_finish,
    copy_bytes,
    jit,
    normalize,
    normalize_list,
    quantize_count,
    rans_encode_bytes,
    rd32,
    rdec_block,
    rdec_finish,
    rdec_init,
    rdec_tail,
    seg_len,
    steps32,
    table_read_list,
    table_write,
    wr32,
)

STORED, CONST, RANS = 0, 1, 2
HDR = 5


def bound(n: int) -> int:
    return n + HDR + 16


@jit
def encode(src, soff, n, out, ooff):
    """the payload of src[soff .. soff + n) at out[ooff ..] (room for bound(n)); its length"""
    cnt = np.zeros(256, np.int64)
    for i in range(n):
        cnt[src[soff + i]] += 1
    wr32(out, ooff + 1, n)
    distinct = 0
    for i in range(256):
        if cnt[i]:
            distinct += 1
    if distinct == 1:
        out[ooff] = CONST
        out[ooff + HDR] = src[soff]
        return HDR + 1
    if n >= 64:
        q = np.zeros(256, np.int64)
        freq = np.zeros(256, np.int64)
        for i in range(256):
            if cnt[i]:
                q[i] = quantize_count(cnt[i], n, PB)
        normalize(q, 0, 256, freq, PB)
        tb = np.zeros(2048, np.uint8)
        st = np.zeros(4, np.int64)
        table_write(tb, st, q, 0, 8)
        tlen = bw_finish(tb, st)
        # the exact cost first: no coding where it cannot pay (noise planes)
        bits = np.int64(0)
        for i in range(256):
            if cnt[i]:
                bits += cnt[i] * (np.int64(PB) * 65536 - LOG2[freq[i]])
        if not (bits // 65536 // 8 + tlen + 4 + 4 * LANES + 16 >= n):
            es = np.zeros((256, 5), np.int64)
            build_esym(es, 0, freq, 256, PB)
            tmp = np.empty(4 * LANES + 2 * n + 2, np.uint8)
            slen = rans_encode_bytes(src[soff:soff + n], n, es, tmp)
            total = HDR + 4 + tlen + slen
            if total < HDR + n:
                out[ooff] = RANS
                wr32(out, ooff + HDR, tlen)
                out[ooff + HDR + 4:ooff + HDR + 4 + tlen] = tb[:tlen]
                out[ooff + HDR + 4 + tlen:ooff + total] = tmp[:slen]
                return total
    out[ooff] = STORED
    out[ooff + HDR:ooff + HDR + n] = src[soff:soff + n]
    return HDR + n


@jit
def decode(p, start, ln, dst, doff, n, info):
    """payload p[start .. start + ln) into dst[doff .. doff + n); 0 or an error id"""
    if ln < HDR:
        info[0] = ln
        return E.ENT_HEADER
    dn = rd32(p, start + 1)
    if dn != n:
        info[0] = dn
        info[1] = n
        return E.ENT_SIZE
    mode = p[start]
    if mode == STORED:
        if ln != HDR + n:
            if ln < HDR + n:
                info[0] = HDR + n
                info[1] = ln
                return E.NEED
            info[0] = ln - HDR - n
            return E.ENT_STORED_TRAIL
        copy_bytes(dst, doff, p, start + HDR, n)
        return 0
    if mode == CONST:
        if ln < HDR + 1:
            info[0] = HDR + 1
            info[1] = ln
            return E.NEED
        if ln > HDR + 1:
            info[0] = HDR + 1
            info[1] = ln
            return E.NEED_TRAIL
        dst[doff:doff + n] = p[start + HDR]
        return 0
    if mode != RANS:
        info[0] = mode
        return E.ENT_MODE
    if ln < HDR + 4:
        info[0] = HDR + 4
        info[1] = ln
        return E.NEED
    tlen = rd32(p, start + HDR)
    if tlen > ln - HDR - 4:
        info[0] = tlen
        info[1] = ln - HDR - 4
        return E.ENT_TABLE
    sym = np.empty(256, np.int64)
    q = np.empty(256, np.int64)
    freq = np.empty(256, np.int64)
    res = np.zeros(1, np.int64)
    br = np.zeros(4, np.int64)
    br[0] = start + HDR + 4
    br[1] = tlen
    err = table_read_list(p, br, 8, PB, sym, q, res, info)
    if err:
        return err
    m = res[0]
    if (br[2] + 7) // 8 != tlen:
        info[0] = tlen
        info[1] = (br[2] + 7) // 8
        return E.TABLE_LEN
    if normalize_list(q, m, freq, PB):
        info[0] = m
        return E.ENT_NORM
    et = np.empty(1 << PB, np.int64)
    build_dtab_list(et, 0, PB, sym, freq, m, sym, False)
    x = np.empty(LANES, np.int64)
    base = np.empty(LANES, np.int64)
    s0 = start + HDR + 4 + tlen
    end = start + ln
    err = rdec_init(p, s0, end - s0, x, base, info)
    if err:
        return err
    pos = s0 + 4 * LANES
    seg = seg_len(n)
    r = n - LANES * seg
    tmp = np.empty(LANES * BLK, np.uint16)
    ro = np.zeros(LANES, np.int64)
    for i0 in range(0, seg, BLK):
        S = min(BLK, seg - i0)
        used = np.int64(-1)
        if end - pos >= 2 * LANES * S:
            used = steps32(x, base, et, PB, p, pos, S, tmp, ro, 0)
        if used >= 0:
            pos += used
        else:
            # near the stream's end (or without the IR): the scalar steps
            err = rdec_block(p, pos, end, x, base, et, PB, S, tmp, res)
            if err:
                return err
            pos = res[0]
        for l in range(LANES):
            o = doff + l * seg + i0
            for s in range(S):
                dst[o + s] = tmp[s * LANES + l]
    if r:
        err = rdec_tail(p, pos, end, x, base, et, PB, r, tmp, res)
        if err:
            return err
        pos = res[0]
        o = doff + LANES * seg
        for k in range(r):
            dst[o + k] = tmp[k]
    return rdec_finish(pos, end, x, info)
