/* The frequency-table reader alone (zw_table_read_list, spec/CODERS.md 1.2), then the
 * normalization and the decode-table builder on what it accepts. Byte 0: B = 1..12 (low
 * nibble mod 12 + 1) and the precision P = 11..14 (bits 4-5); the rest is the bit stream,
 * read table after table until the reader refuses or the bits run out. For every table
 * accepted: at most min(2^B, 2^P) strictly increasing symbols below 2^B, codes 1..191;
 * frequencies equal to a normalization written from the spec, each >= 1, summing to 2^P;
 * the decode table (an exact-size allocation) gives every slot to the right symbol; and
 * the table written again from the list is exactly the bits that were read. */
#include "zwfuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int B, P, A, t;
    zw_br br;
    uint8_t *buf;
    zwf_init();
    if (size < 1) return 0;
    B = (data[0] & 15) % 12 + 1;
    P = 11 + ((data[0] >> 4) & 3);
    A = 1 << B;
    buf = zwf_dup(data + 1, size - 1);
    br.buf = buf;
    br.len = size - 1;
    br.bitpos = 0;
    br.overrun = 0;
    for (t = 0; t < 64; t++) {
        uint16_t sym[4096], freq[4096];
        uint8_t q[4096];
        uint32_t fref[4096], sum = 0;
        int m = -1, i;
        uint64_t b0 = br.bitpos;
        zw_err e;
        zw_dtabs dt;
        if (zw_table_read_list(&br, B, P, sym, q, &m, &e)) {
            ZWF_CHECK(e.code == ZW_ETRUNC || e.code == ZW_ECORRUPT, "error code %d", (int)e.code);
            break;
        }
        ZWF_CHECK(m >= 1 && m <= A && m <= (1 << P), "%d symbols accepted (B %d P %d)", m, B, P);
        ZWF_CHECK(br.bitpos <= 8 * (uint64_t)(size - 1), "reader went past its bytes");
        for (i = 0; i < m; i++) {
            ZWF_CHECK(sym[i] < A && (i == 0 || sym[i] > sym[i - 1]), "symbol %d out of order", i);
            ZWF_CHECK(q[i] >= 1 && q[i] <= ZW_QMAX, "code %d", q[i]);
        }
        ZWF_CHECK(zw_normalize_list(q, m, freq, P) == 0, "normalization refused %d symbols", m);
        zwf_normalize(q, m, fref, P);
        for (i = 0; i < m; i++) {
            ZWF_CHECK(freq[i] == fref[i] && freq[i] >= 1, "freq %d: %u, spec says %u", i, freq[i], fref[i]);
            sum += freq[i];
        }
        ZWF_CHECK(sum == (1u << P), "frequencies sum to %u", sum);
        dt.pb = P;
        dt.e = zwf_alloc(((size_t)1 << P) * sizeof *dt.e);
        zw_build_dtab_list(&dt, 0, sym, freq, m, NULL);
        {
            uint32_t start = 0, slot;
            for (i = 0; i < m; i++) {
                for (slot = start; slot < start + freq[i]; slot += 1 + freq[i] / 4) {
                    uint64_t en = dt.e[slot];
                    ZWF_CHECK((en >> 32 & 0xfff) == sym[i] && (en & 0xffff) == freq[i] &&
                                  ((en >> 16) & 0xffff) == start,
                              "slot %u", slot);
                }
                start += freq[i];
            }
        }
        free(dt.e);
        {
            /* the serialization is canonical: write the list back, compare the bits */
            uint8_t w[8192];
            zwf_bits bw = {w, sizeof w, 0};
            uint64_t k;
            zwf_put_table(&bw, B, sym, q, m, (uint32_t)m);
            ZWF_CHECK(bw.bits == br.bitpos - b0, "table of %llu bits rewritten as %llu",
                      (unsigned long long)(br.bitpos - b0), (unsigned long long)bw.bits);
            for (k = 0; k < bw.bits; k++) {
                uint64_t a = b0 + k;
                ZWF_CHECK(((buf[a >> 3] >> (a & 7)) & 1) == ((w[k >> 3] >> (k & 7)) & 1), "bit %llu differs",
                          (unsigned long long)k);
            }
        }
    }
    free(buf);
    return 0;
}
