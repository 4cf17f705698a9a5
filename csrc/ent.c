/* Generic order-0 byte coder: 32-lane rANS with a serialized frequency table, or a
 * constant / stored fallback. Format: spec/CODERS.md, "ent payload". */
#include <stdlib.h>
#include <string.h>

#include "log2tab.h"
#include "zw.h"

#define ENT_STORED 0
#define ENT_CONST 1
#define ENT_RANS 2
#define ENT_HDR 5
#define BLK ZW_BLK

size_t zw_ent_bound(size_t n) { return n + ENT_HDR + 16; }

/* Returns the payload size, or (size_t)-1 when out of memory. */
size_t zw_ent_encode(const uint8_t *src, size_t n, uint8_t *out)
{
    uint64_t cnt[256] = {0};
    uint8_t q[256];
    uint16_t freq[256];
    size_t i, distinct = 0;
    zw_wr32(out + 1, (uint32_t)n);
    {
        /* four sub-histograms: consecutive increments of one counter would serialize */
        uint32_t c4[4][256];
        size_t n4 = n & ~(size_t)3;
        memset(c4, 0, sizeof c4);
        for (i = 0; i < n4; i += 4) {
            c4[0][src[i]]++;
            c4[1][src[i + 1]]++;
            c4[2][src[i + 2]]++;
            c4[3][src[i + 3]]++;
        }
        for (; i < n; i++) c4[0][src[i]]++;
        for (i = 0; i < 256; i++) cnt[i] = (uint64_t)c4[0][i] + c4[1][i] + c4[2][i] + c4[3][i];
    }
    for (i = 0; i < 256; i++) distinct += cnt[i] != 0;
    if (distinct == 1) {
        out[0] = ENT_CONST;
        out[ENT_HDR] = src[0];
        return ENT_HDR + 1;
    }
    if (n >= 64) {
        uint8_t *tmp;
        zw_esym *es;
        size_t tlen, slen, total;
        uint64_t bits = 0;
        zw_bw w;
        uint8_t tb[2048]; /* a 256-symbol table needs at most ~600 bytes */
        for (i = 0; i < 256; i++) q[i] = cnt[i] ? (uint8_t)zw_quantize_count(cnt[i], n, ZW_PB) : 0;
        zw_normalize(q, 256, freq, ZW_PB);
        zw_bw_init(&w, tb, sizeof tb);
        zw_table_write(&w, q, 8);
        tlen = zw_bw_finish(&w);
        /* exact cost estimate first: skip the coder when it cannot pay (noise planes) */
        for (i = 0; i < 256; i++)
            if (cnt[i]) bits += cnt[i] * ((uint64_t)ZW_PB * 65536 - zw_log2_tab[freq[i]]);
        if (bits / 65536 / 8 + tlen + 4 + 4 * ZW_LANES + 16 >= n) goto stored;
        es = zw_scratch(ZW_S_ENT_ES, 256 * sizeof *es);
        tmp = zw_scratch(ZW_S_ENT_TMP, 4 * ZW_LANES + 2 * n + 2);
        if (!es || !tmp) {
            zw_scratch_done(ZW_S_ENT_ES, es);
            zw_scratch_done(ZW_S_ENT_TMP, tmp);
            return (size_t)-1;
        }
        zw_build_esym(es, freq, 256, ZW_PB);
        slen = zw_rans_encode_bytes(src, n, es, tmp);
        total = ENT_HDR + 4 + tlen + slen;
        if (total < ENT_HDR + n) {
            out[0] = ENT_RANS;
            zw_wr32(out + ENT_HDR, (uint32_t)tlen);
            memcpy(out + ENT_HDR + 4, tb, tlen);
            memcpy(out + ENT_HDR + 4 + tlen, tmp, slen);
        }
        zw_scratch_done(ZW_S_ENT_ES, es);
        zw_scratch_done(ZW_S_ENT_TMP, tmp);
        if (total < ENT_HDR + n) return total;
    }
stored:
    out[0] = ENT_STORED;
    if (n) memcpy(out + ENT_HDR, src, n);
    return ENT_HDR + n;
}

int zw_ent_decode(const uint8_t *p, size_t len, uint8_t *dst, size_t n, zw_err *e)
{
    uint32_t dn;
    if (len < ENT_HDR)
        return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes of header, have %zu", ENT_HDR, len);
    dn = zw_rd32(p + 1);
    if ((size_t)dn != n)
        return zw_fail(e, ZW_ESIZE, "size mismatch: payload holds %u bytes, destination has %zu", dn, n);
    switch (p[0]) {
    case ENT_STORED:
        if (len != ENT_HDR + n) {
            if (len < ENT_HDR + n)
                return zw_fail(e, ZW_ETRUNC, "payload truncated: need %zu bytes, have %zu", ENT_HDR + n,
                               len);
            return zw_fail(e, ZW_ETRAIL, "trailing bytes: %zu after stored data", len - ENT_HDR - n);
        }
        if (n) memcpy(dst, p + ENT_HDR, n);
        return 0;
    case ENT_CONST:
        if (len < ENT_HDR + 1)
            return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes, have %zu",
                           ENT_HDR + 1, len);
        if (len > ENT_HDR + 1)
            return zw_fail(e, ZW_ETRAIL, "trailing bytes: need %d bytes, have %zu",
                           ENT_HDR + 1, len);
        memset(dst, p[ENT_HDR], n);
        return 0;
    case ENT_RANS: {
        uint32_t tlen;
        uint8_t q[256];
        uint16_t freq[256], sym[256];
        int m;
        zw_br br;
        zw_dtabs tab = {NULL};
        zw_rdec d;
        uint16_t tmp[ZW_LANES * BLK > 512 ? ZW_LANES * BLK : 512];
        size_t seg = zw_seg_len(n), r = n - ZW_LANES * seg, i0;
        int avx2 = zw_have_avx2();
        int rc = -1;
        if (len < ENT_HDR + 4)
            return zw_fail(e, ZW_ETRUNC, "payload truncated: need %d bytes, have %zu", ENT_HDR + 4, len);
        tlen = zw_rd32(p + ENT_HDR);
        if ((uint64_t)tlen > len - ENT_HDR - 4)
            return zw_fail(e, ZW_ETRUNC, "payload truncated: table needs %u bytes, have %zu", tlen,
                           len - ENT_HDR - 4);
        br.buf = p + ENT_HDR + 4;
        br.len = tlen;
        br.bitpos = 0;
        br.overrun = 0;
        if (zw_table_read_list(&br, 8, ZW_PB, sym, q, &m, e)) return -1;
        if ((br.bitpos + 7) / 8 != tlen)
            return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %u bytes declared, %zu used", tlen,
                           (size_t)((br.bitpos + 7) / 8));
        if (zw_normalize_list(q, m, freq, ZW_PB))
            return zw_fail(e, ZW_ECORRUPT, "frequency table invalid: %d symbols", m);
        if (zw_dtabs_alloc(&tab, 1, ZW_PB, ZW_S_ENT_DTAB)) return zw_fail(e, ZW_ENOMEM, "out of memory");
        zw_build_dtab_list(&tab, 0, sym, freq, m, NULL);
        if (zw_rdec_init(&d, p + ENT_HDR + 4 + tlen, len - ENT_HDR - 4 - tlen, e)) goto out;
        for (i0 = 0; i0 < seg; i0 += BLK) {
            int S = (int)(seg - i0 < BLK ? seg - i0 : BLK), l, s;
            if (zw_rdec_block(&d, &tab, S, tmp, e)) goto out;
            if (avx2) {
                zw_merge8_avx2(tmp, S, seg, i0, dst);
                continue;
            }
            for (l = 0; l < ZW_LANES; l++) {
                uint8_t *o = dst + (size_t)l * seg + i0;
                const uint16_t *t = tmp + l;
                for (s = 0; s < S; s++) o[s] = (uint8_t)t[s * ZW_LANES];
            }
        }
        if (r) {
            size_t l;
            if (zw_rdec_tail(&d, &tab, (int)r, tmp, e)) goto out;
            for (l = 0; l < r; l++) dst[ZW_LANES * seg + l] = (uint8_t)tmp[l];
        }
        rc = zw_rdec_finish(&d, e);
    out:
        zw_dtabs_free(&tab, ZW_S_ENT_DTAB);
        return rc;
    }
    default:
        return zw_fail(e, ZW_ECORRUPT, "unknown ent payload mode %d", p[0]);
    }
}
