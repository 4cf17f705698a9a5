/* What the float encoder (floatc.c) and decoder (floatd.c) share: the payload's modes
 * and header, the kinds, and the context of an exponent. Format: spec/CODERS.md. */
#ifndef ZW_FLOATC_H
#define ZW_FLOATC_H
#include "zw.h"

#define F_STORED 0
#define F_CODED 1
#define F_SIGNED 2 /* coded, contexts also split by the previous value's sign */
#define HDR 6 /* kind, mode, u32 n */
#define BLK ZW_BLK
#define NFINE 16
#define NWIN (NFINE - 2) /* single exponents in the fine window */
/* histogram row stride: 4096 counters plus one cache line, so that the same symbol's
 * counters in different rows fall in different L1 sets (rows 16 KiB apart all alias, and
 * with 32 rows in use that thrashed L1 and halved the encoder's speed) */
#define HROW (4096 + 16)

typedef struct {
    int W;  /* bits per value: 16 or 32 */
    int EB; /* exponent bits */
    int Bmin, Bmax;
} kindinfo;

static inline int get_kind(int kind, kindinfo *k, zw_err *e)
{
    switch (kind) {
    case 0: *k = (kindinfo){16, 8, 9, 12}; return 0;
    case 1: *k = (kindinfo){16, 5, 6, 12}; return 0;
    case 2: *k = (kindinfo){32, 8, 9, 12}; return 0;
    default: return zw_fail(e, ZW_EARG, "unsupported float kind %d (0=BF16, 1=F16, 2=F32)", kind);
    }
}

/* context of the value following a value with exponent ex, thresholds t[0..nt) ascending */
static inline int ctx_of(int ex, const int *t, int nt)
{
    int c = 0, k;
    for (k = 0; k < nt; k++) c += ex >= t[k];
    return c;
}

#endif
