/* Whole-chunk float decoder: the inverse of floatc.c (spec/CODERS.md, "float payload").
 * Kept apart from the encoder so that either can be tuned without touching the other. */
#include <stdlib.h>
#include <string.h>

#include "floatc.h"

int zw_float_decode(const uint8_t *p, size_t len, int kind, uint8_t *dst, size_t nbytes,
                    zw_err *e)
{
    kindinfo K = {0, 0, 0, 0};
    size_t n, pos, seg, r, i0, restlen;
    int B, C, P, w, c, A, emask, t[ZW_MAXCTX], rc = -1, nt1;
    uint8_t q[4096], nextctx[4096], ecl[256];
    uint16_t freq[4096], sym[4096];
    uint16_t tmp[ZW_LANES * BLK > 512 ? ZW_LANES * BLK : 512];
    zw_dtabs tabs = {NULL};
    int avx2 = zw_have_avx2();
    uint8_t *planes = NULL;
    const uint8_t *rest;
    zw_rdec d;
    zw_br br;
    uint32_t tlen;

    if (get_kind(kind, &K, e)) return -1;
    if (nbytes % (size_t)(K.W / 8))
        return zw_fail(e, ZW_EARG, "destination size %zu is not a multiple of the value size %d",
                       nbytes, K.W / 8);
    n = nbytes / (size_t)(K.W / 8);
    if ((uint64_t)n > ZW_MAXN)
        return zw_fail(e, ZW_ELIMIT, "chunk too large: %zu values, at most %llu", n,
                       (unsigned long long)ZW_MAXN);
    if (len < HDR)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes of header, have %zu", HDR, len);
    if (p[0] != kind)
        return zw_fail(e, ZW_ECORRUPT, "kind mismatch: payload is kind %d, caller asked for %d", p[0], kind);
    if ((size_t)zw_rd32(p + 2) != n)
        return zw_fail(e, ZW_ESIZE, "size mismatch: payload holds %u values, destination has %zu",
                       zw_rd32(p + 2), n);
    if (p[1] == F_STORED) {
        if (len < HDR + nbytes)
            return zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu",
                           HDR + nbytes, len);
        if (len > HDR + nbytes)
            return zw_fail(e, ZW_ETRAIL, "trailing bytes: need %zu bytes, have %zu",
                           HDR + nbytes, len);
        if (nbytes) memcpy(dst, p + HDR, nbytes);
        return 0;
    }
    if (p[1] != F_CODED && p[1] != F_SIGNED) return zw_fail(e, ZW_ECORRUPT, "unknown float payload mode %d", p[1]);
    if (len < HDR + 3) return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes, have %zu", HDR + 3, len);
    B = p[HDR];
    C = p[HDR + 1];
    P = p[HDR + 2];
    if (B < K.Bmin || B > K.Bmax) return zw_fail(e, ZW_ECORRUPT, "invalid symbol width %d", B);
    if (C < 1 || C > ZW_MAXCTX || (p[1] == F_SIGNED && C % 2))
        return zw_fail(e, ZW_ECORRUPT, "invalid context count %d", C);
    if (P < ZW_PBMIN || P > ZW_PBMAX) return zw_fail(e, ZW_ECORRUPT, "invalid probability precision %d", P);
    nt1 = p[1] == F_SIGNED ? C / 2 : C; /* exponent contexts */
    pos = HDR + 3 + (size_t)(nt1 - 1);
    if (len < pos + 4) return zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu", pos + 4, len);
    emask = (1 << K.EB) - 1;
    for (c = 0; c < nt1 - 1; c++) {
        t[c] = p[HDR + 3 + c];
        if (t[c] > emask || (c && t[c] <= t[c - 1]))
            return zw_fail(e, ZW_ECORRUPT, "invalid context thresholds");
    }
    A = 1 << B;
    w = 16 - B;
    tlen = zw_rd32(p + pos);
    pos += 4;
    if ((uint64_t)tlen > len - pos)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: tables need %u bytes, have %zu", tlen, len - pos);
    if (zw_dtabs_alloc(&tabs, C, P, ZW_S_FLOAT_DTAB)) return zw_fail(e, ZW_ENOMEM, "out of memory");
    for (c = 0; c <= emask; c++) ecl[c] = (uint8_t)ctx_of(c, t, nt1 - 1);
    for (c = 0; c < A; c++)
        nextctx[c] = (uint8_t)(ecl[(c >> (B - 1 - K.EB)) & emask] + (nt1 < C ? (c >> (B - 1)) * nt1 : 0));
    br.buf = p + pos;
    br.len = tlen;
    br.bitpos = 0;
    br.overrun = 0;
    for (c = 0; c < C; c++) {
        int m;
        if (zw_table_read_list(&br, B, P, sym, q, &m, e)) goto out;
        if (zw_normalize_list(q, m, freq, P)) { /* unreachable: the reader checked m */
            zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %d symbols at precision %d", m, P);
            goto out;
        }
        zw_build_dtab_list(&tabs, c, sym, freq, m, nextctx);
    }
    if ((br.bitpos + 7) / 8 != tlen) {
        zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %u bytes declared, %zu used", tlen,
                (size_t)((br.bitpos + 7) / 8));
        goto out;
    }
    pos += tlen;
    if (K.W == 32) {
        int pl;
        planes = zw_scratch(ZW_S_FLOAT_PLANES, 2 * n + 1);
        if (!planes) {
            zw_fail(e, ZW_ENOMEM, "out of memory");
            goto out;
        }
        for (pl = 1; pl >= 0; pl--) {
            uint32_t plen;
            if (len - pos < 4) {
                zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu", pos + 4, len);
                goto out;
            }
            plen = zw_rd32(p + pos);
            pos += 4;
            if ((uint64_t)plen > len - pos) {
                zw_fail(e, ZW_ETRUNC, "payload truncated: byte plane needs %u bytes, have %zu", plen,
                        len - pos);
                goto out;
            }
            if (zw_ent_decode(p + pos, plen, planes + (size_t)(1 - pl) * n, n, e)) goto out;
            pos += plen;
        }
    }
    restlen = (n * (size_t)w + 7) / 8;
    if (len - pos < restlen) {
        zw_fail(e, ZW_ETRUNC, "payload truncated: raw bits need %zu bytes, have %zu", restlen, len - pos);
        goto out;
    }
    rest = p + pos;
    pos += restlen;
    /* the rANS stream follows the raw bits and is at least 128 bytes long, so 8-byte loads
     * starting inside the raw bits stay inside the payload */
    if (zw_rdec_init(&d, p + pos, len - pos, e)) goto out;
    seg = zw_seg_len(n);
    r = n - ZW_LANES * seg;
    {
        const uint32_t m = (1u << w) - 1;
        for (i0 = 0; i0 < seg; i0 += BLK) {
            int S = (int)(seg - i0 < BLK ? seg - i0 : BLK), l, s;
            if (zw_rdec_block(&d, &tabs, S, tmp, e)) goto out;
            if (avx2) {
                if (K.W == 16)
                    zw_merge16_avx2(tmp, S, seg, i0, rest, w, dst);
                else
                    zw_merge32_avx2(tmp, S, seg, i0, rest, w, planes, planes + n, dst);
                continue;
            }
            for (l = 0; l < ZW_LANES; l++) {
                size_t j0 = (size_t)l * seg + i0;
                const uint16_t *tl = tmp + l;
                if (K.W == 16) {
                    uint8_t *o = dst + 2 * j0;
                    for (s = 0; s < S; s++) {
                        uint64_t bp = (uint64_t)(j0 + s) * w, v;
                        uint16_t hv;
                        memcpy(&v, rest + (bp >> 3), 8);
                        hv = (uint16_t)((tl[s * ZW_LANES] << w) | ((v >> (bp & 7)) & m));
                        memcpy(o + 2 * s, &hv, 2);
                    }
                } else {
                    uint8_t *o = dst + 4 * j0;
                    const uint8_t *p1 = planes + j0, *p0 = planes + n + j0;
                    for (s = 0; s < S; s++) {
                        uint64_t bp = (uint64_t)(j0 + s) * w, v;
                        uint32_t hv;
                        memcpy(&v, rest + (bp >> 3), 8);
                        hv = ((uint32_t)((tl[s * ZW_LANES] << w) | ((v >> (bp & 7)) & m)) << 16) |
                             ((uint32_t)p1[s] << 8) | p0[s];
                        memcpy(o + 4 * s, &hv, 4);
                    }
                }
            }
        }
        if (r) {
            size_t l;
            if (zw_rdec_tail(&d, &tabs, (int)r, tmp, e)) goto out;
            for (l = 0; l < r; l++) {
                size_t j = ZW_LANES * seg + l;
                uint64_t bp = (uint64_t)j * w, v;
                uint32_t hv;
                memcpy(&v, rest + (bp >> 3), 8);
                hv = (uint32_t)((tmp[l] << w) | ((v >> (bp & 7)) & m));
                if (K.W == 16) {
                    uint16_t h16 = (uint16_t)hv;
                    memcpy(dst + 2 * j, &h16, 2);
                } else {
                    hv = (hv << 16) | ((uint32_t)planes[j] << 8) | planes[n + j];
                    memcpy(dst + 4 * j, &hv, 4);
                }
            }
        }
    }
    rc = zw_rdec_finish(&d, e);
out:
    zw_dtabs_free(&tabs, ZW_S_FLOAT_DTAB);
    zw_scratch_done(ZW_S_FLOAT_PLANES, planes);
    return rc;
}
