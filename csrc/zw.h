/* Internal API of the entropy kernels (rANS core, byte coder, float codec). Plain C, no
 * Python. Every function is reentrant: no global mutable state. Payload formats are
 * specified in spec/CODERS.md. */
#ifndef ZW_H
#define ZW_H
#include <stddef.h>
#include <stdint.h>

#define ZW_PB 12                 /* probability precision of ent payloads (sum 4096) */
#define ZW_M (1u << ZW_PB)
#define ZW_PBMIN 11              /* float payloads declare their precision P in 11..14 */
#define ZW_PBMAX 14
#define ZW_L (1u << 15)          /* rANS state lower bound; states live in [L, 2^31) */
#define ZW_LANES 32              /* interleaved rANS states */
#define ZW_MAXCTX 16             /* most context tables in one float payload */
#define ZW_MAXB 12               /* widest coded symbol, bits */
#define ZW_QMAX 191              /* largest quantized weight code */
#define ZW_MAXN ((uint64_t)1 << 30) /* most values in one payload */
#define ZW_BLK 128               /* decoder block: steps per rdec_block/merge call (max) */

/* Error reporting: functions return 0 on success, -1 on error with a code and a message
 * in err. The code says what kind of failure it is (module.c maps each code to one Python
 * exception); the message only says where, for people. */
typedef enum {
    ZW_OK = 0,
    ZW_ETRUNC,   /* the payload ends before a structure it declares */
    ZW_ECORRUPT, /* a field breaks a MUST of spec/CODERS.md */
    ZW_ETRAIL,   /* bytes left after the payload's last structure */
    ZW_ESIZE,    /* the payload's declared size is not the destination's */
    ZW_EARG,     /* the caller's arguments (kind, unit, buffer sizes) */
    ZW_ELIMIT,   /* an input beyond what the coder accepts (ZW_MAXN values) */
    ZW_ENOMEM,
    ZW_NCODES
} zw_code;
typedef struct {
    zw_code code;
    char msg[160];
} zw_err;
int zw_fail(zw_err *e, zw_code code, const char *fmt, ...);

/* ---- decode tables: context c owns slots [c*4096, (c+1)*4096) of both arrays ---- */
typedef struct {
    /* low 32 bits: freq | start << 16; high 32 bits: symbol | next_base << 12, where
     * next_base = next_context << pb is the next slot base of the lane */
    uint64_t *e;
    int pb; /* precision: 2^pb slots per context */
} zw_dtabs;
int zw_dtabs_alloc(zw_dtabs *t, int C, int pb, int slot);
void zw_dtabs_free(zw_dtabs *t, int slot);

/* per-thread scratch (scratch.c): a buffer of at least `size` bytes for `slot`, kept by
 * the thread between calls; give it back with zw_scratch_done (never free() it). A
 * kernel that calls another uses slots the callee does not. */
enum {
    ZW_S_FLOAT_HCOPY, ZW_S_FLOAT_HIST, ZW_S_FLOAT_QS, ZW_S_FLOAT_C12, ZW_S_FLOAT_CB,
    ZW_S_FLOAT_ES, ZW_S_FLOAT_TMP, ZW_S_FLOAT_DTAB, ZW_S_FLOAT_PLANES,
    ZW_S_ENT_ES, ZW_S_ENT_TMP, ZW_S_ENT_DTAB,
    ZW_S_DELTA_HIST, ZW_S_DELTA_TOK, ZW_S_DELTA_ES, ZW_S_DELTA_TMP, ZW_S_DELTA_DTAB,
    ZW_S_MOD_OUT, /* module.c: an encoder's output before it is copied into its bytes */
    ZW_NSCRATCH
};
void *zw_scratch(int slot, size_t size);
void zw_scratch_done(int slot, void *p);

/* sparse.c: bitmap + packed non-zero values (spec/FORMAT.md, SPARSE) */
size_t zw_sparse_split(const uint8_t *src, size_t m, int unit, uint8_t *bitmap, uint8_t *vals);
int zw_sparse_merge(const uint8_t *bitmap, size_t blen, const uint8_t *vals, size_t nnz, int unit,
                    uint8_t *out, size_t m, zw_err *e);

/* ---- encode symbol info ---- */
typedef struct {
    uint32_t xm1, rcp, bias; /* xm1 = x_max - 1 (renormalize while x > xm1) */
    uint16_t cmpl, shift;
} zw_esym;

/* quantized weights <-> frequencies */
int zw_quantize_count(uint64_t count, uint64_t total, int pb); /* -> q in 1..ZW_QMAX */
uint32_t zw_qweight(int q);
/* q[0..A): 0 = unused; writes freq[0..A) summing to 2^pb, every used one >= 1. Returns
 * the number used, or -1 when none is or more are used than 2^pb slots hold. */
int zw_normalize(const uint8_t *q, int A, uint16_t *freq, int pb);
/* the same on a list of m used symbols (all q > 0), in symbol order; 0 or -1 */
int zw_normalize_list(const uint8_t *q, int m, uint16_t *freq, int pb);

/* ---- bit I/O ---- */
typedef struct {
    uint8_t *buf;
    size_t cap, pos; /* pos in bytes of the next flush */
    uint64_t acc;
    int nacc;
} zw_bw;
void zw_bw_init(zw_bw *w, uint8_t *buf, size_t cap);
void zw_bw_put(zw_bw *w, uint32_t v, int nb); /* nb <= 32 */
size_t zw_bw_finish(zw_bw *w);                /* returns bytes written */
typedef struct {
    const uint8_t *buf;
    size_t len;
    uint64_t bitpos;
    int overrun;
} zw_br;
uint32_t zw_br_get(zw_br *r, int nb);

/* table serialization: q[0..2^B) */
void zw_table_write(zw_bw *w, const uint8_t *q, int B);
/* reads one table as a list: m used symbols sym[0..m) ascending, weight codes q[0..m).
 * A table for precision pb holds at most min(2^B, 2^pb) symbols: each needs a slot. */
int zw_table_read_list(zw_br *r, int B, int pb, uint16_t *sym, uint8_t *q, int *m, zw_err *e);

/* decode table of context c from the used symbols' frequencies (freq[i] of sym[i], as
 * zw_normalize_list gives). nextctx[s] (may be NULL = all 0) is the context that follows
 * symbol s. */
void zw_build_dtab_list(zw_dtabs *t, int c, const uint16_t *sym, const uint16_t *freq, int m,
                        const uint8_t *nextctx);
void zw_build_esym(zw_esym *t, const uint16_t *freq, int A, int pb);

/* ---- rANS core ----
 * Layout of n values: seg = zw_seg_len(n) (a multiple of 16); value j < 32*seg belongs to
 * lane j / seg; the tail value j = 32*seg + t (t < 512) belongs to lane t % 32. Each
 * lane codes its values in increasing j. Decoding order: steps i = 0..seg-1, each step
 * lanes 0..31 (value l*seg + i), then the tail values in increasing t. The stream: 32
 * little-endian u32 final states, then little-endian u16 renormalization words in
 * decoding order. */
static inline size_t zw_seg_len(size_t n) { return (n / (16 * ZW_LANES)) * 16; }

typedef struct {
    uint32_t x[ZW_LANES];
    uint32_t base[ZW_LANES]; /* context << pb */
    const uint8_t *p, *end;
    int simd; /* zw_have_avx2(), probed once per stream */
} zw_rdec;
int zw_rdec_init(zw_rdec *d, const uint8_t *stream, size_t len, zw_err *e);
/* decode steps [i0, i0+S) of all lanes into out[s*32 + l] (symbol only; step-major) */
int zw_rdec_block(zw_rdec *d, const zw_dtabs *t, int S, uint16_t *out, zw_err *e);
/* decode the r tail values (value t in lane t % 32) into out[t] */
int zw_rdec_tail(zw_rdec *d, const zw_dtabs *t, int r, uint16_t *out, zw_err *e);
/* the same two with each symbol's context given by the caller instead of by the symbol
 * before it: ctx[s*32 + l] (tail: ctx[t]) is its table base, context << pb */
int zw_rdec_block_ctx(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out, zw_err *e);
int zw_rdec_tail_ctx(zw_rdec *d, const zw_dtabs *t, int r, const uint32_t *ctx, uint16_t *out, zw_err *e);
int zw_rdec_finish(zw_rdec *d, zw_err *e);

static inline void zw_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* branchless renormalization: the word is always stored, the pointer only moves when
 * it is needed (the slot below p is always inside the output buffer) */
#define ENC_PUT(X, ES)                                                                   \
    do {                                                                                 \
        const zw_esym *es_ = (ES);                                                       \
        uint32_t x_ = (X);                                                               \
        uint32_t need_ = x_ > es_->xm1;                                               \
        zw_put16(p - 2, x_);                                                                \
        p -= 2 * need_;                                                                  \
        x_ = need_ ? x_ >> 16 : x_;                                                      \
        uint32_t q_ = (uint32_t)(((uint64_t)x_ * es_->rcp) >> 32) >> es_->shift;         \
        (X) = x_ + es_->bias + q_ * es_->cmpl;                                           \
    } while (0)

/* the same for bytes with one table (ent payloads); out cap >= 130 + 2n */
size_t zw_rans_encode_bytes(const uint8_t *src, size_t n, const zw_esym *tab, uint8_t *out);

/* ---- byte coder ---- */
size_t zw_ent_bound(size_t n);
size_t zw_ent_encode(const uint8_t *src, size_t n, uint8_t *out); /* out cap >= bound */
int zw_ent_decode(const uint8_t *p, size_t len, uint8_t *dst, size_t n, zw_err *e);

/* ---- float codec ---- */
size_t zw_float_bound(size_t nbytes);
/* 0 when zw_float_encode takes nbytes of this kind (kind, whole values, ZW_MAXN) */
int zw_float_check(size_t nbytes, int kind, zw_err *e);
/* returns bytes written, or (size_t)-1 with e set (bad kind / size) */
size_t zw_float_encode(const uint8_t *src, size_t nbytes, int kind, int level, uint8_t *out,
                       zw_err *e);
int zw_float_decode(const uint8_t *p, size_t len, int kind, uint8_t *dst, size_t nbytes,
                    zw_err *e);

/* ---- delta codec (delta.c): a chunk against the same bytes of a base model ---- */
#define ZW_DMAXCTX 16 /* most exponent contexts in one delta payload */
size_t zw_delta_bound(size_t nbytes);
/* 0 when the coder takes nbytes of this kind against basebytes of base */
int zw_delta_check(size_t nbytes, size_t basebytes, int kind, zw_err *e);
/* src and base hold nbytes each; returns bytes written, or (size_t)-1 with e set */
size_t zw_delta_encode(const uint8_t *src, const uint8_t *base, size_t nbytes, int kind, uint8_t *out,
                       zw_err *e);
int zw_delta_decode(const uint8_t *p, size_t len, const uint8_t *base, size_t basebytes, int kind,
                    uint8_t *dst, size_t nbytes, zw_err *e);

/* floor(log2 v), v >= 1 (portable: GCC/Clang builtins, MSVC intrinsics, plain C) */
#if defined(__GNUC__) || defined(__clang__)
static inline int zw_log2_32(uint32_t v) { return 31 - __builtin_clz(v); }
static inline int zw_log2_64(uint64_t v) { return 63 - __builtin_clzll(v); }
#else
static inline int zw_log2_32(uint32_t v)
{
    int b = 0;
    while (v >>= 1) b++;
    return b;
}
static inline int zw_log2_64(uint64_t v)
{
    int b = 0;
    while (v >>= 1) b++;
    return b;
}
#endif

static inline uint32_t zw_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline void zw_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
/* ---- AVX2 paths (csrc/avx2.c), chosen at run time; identical results ---- */
/* zw_cpu_init() once at module import (single-threaded), before any zw_have_avx2() */
void zw_cpu_init(void);
/* the SIMD level the kernels use from now on (0 scalar, 1 AVX2, 2 AVX-512), capped by
 * what the CPU has; returns the level set. For tests: not while kernels run. */
int zw_cpu_set(int level);
int zw_have_avx2(void);
/* fast path only: the caller guarantees end - p >= 64*S + 16. ctx: NULL, or the table
 * bases as zw_rdec_block_ctx takes them */
void zw_rdec_block_avx2(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out);
/* the same with AVX-512 VL/BW/VBMI2 renormalization; zw_have_avx512() implies avx2 */
int zw_have_avx512(void);
/* PEXT is one fast instruction here (not microcode: AMD before Zen 3); ZW_NO_PEXT=0/1 forces */
int zw_fast_pext(void);
void zw_rdec_block_avx512(zw_rdec *d, const zw_dtabs *t, int S, const uint32_t *ctx, uint16_t *out);
/* tmp: S x 32 step-major symbols (S multiple of 16) of steps [i0, i0+S); writes the values
 * l*seg + i0 + s. merge16: 16-bit values (sym << w | w raw bits from rest); merge32 adds
 * the two low byte planes; merge8: bytes. */
void zw_merge16_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, const uint8_t *rest,
                     int w, uint8_t *dst);
void zw_merge32_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, const uint8_t *rest,
                     int w, const uint8_t *p1, const uint8_t *p0, uint8_t *dst);
void zw_merge8_avx2(const uint16_t *tmp, int S, size_t seg, size_t i0, uint8_t *dst);
/* float encoder raw bits of n8 (multiple of 8) 16-bit values, w <= 8 (BMI2 pext) */
void zw_pack_rest_bmi2(const uint8_t *hb, size_t n8, int w, uint8_t *rp);
/* sparse merge of 16-bit values, nbytes bitmap bytes (8 values each); returns the values
 * taken. The caller makes sure 16 bytes can be read at vals for every bitmap byte. */
size_t zw_sparse_merge16_avx2(const uint8_t *bitmap, size_t nbytes, const uint8_t *vals,
                              uint8_t *out);
/* float encoder, steps seg-1 down to 1 of the segments (16-bit values hb, see floatc.c):
 * lane l codes symbol hb[l*seg+i] >> w with the table of the context of hb[l*seg+i-1].
 * thr[0..nt) are the context thresholds on the exponent (v >> eshift) & emask. */
void zw_float_enc_steps_avx2(const uint8_t *hb, size_t seg, int w, int A, int eshift, int emask,
                             const int *thr, int nt, int sgoff, const zw_esym *es,
                             uint32_t *x, uint8_t **pp);
/* delta decoder (delta_avx2.c), by blocks of S steps (a multiple of 16,
 * at most ZW_BLK) of the 32 lanes. While the rANS kernel decodes block k, it also does,
 * one unit every step, the side work of the blocks around it (the rANS steps are bound
 * by the latency of their table loads and leave the core mostly idle): the base values
 * of block k+1 into step-major order (bstep[s*32 + l]), and the values of block k-1
 * (its z finished by delta.c) out to dst. */
typedef struct {
    const uint8_t *base;
    uint8_t *dst;
    size_t seg;
    int W; /* 16, or 32: then each plane below has a second one of the values' low halves */
    /* in: the block at step in_i0, in_S steps, to in_b (the values, or their high
     * halves, which hold the exponent) and in_b2 (the low halves); out: the block at
     * out_i0, out_S steps, from out_z (z, or its low halves) and out_z2 (the high
     * halves), out_b and out_b2 (op: the transform); in_S / out_S 0: none */
    size_t in_i0, out_i0;
    int in_S, out_S, op;
    uint16_t *in_b, *in_b2;
    const uint16_t *out_z, *out_z2, *out_b, *out_b2;
    int in_u, out_u;              /* units done of each */
    size_t pf_i0;                 /* prefetched: the block after the in block (pf_S steps) */
    int pf_S, pw_S;               /* and the block after the out block (pw_S steps); 0: none */
    /* lane-major staging, 32 x ZW_BLK values each */
    uint16_t (*lin)[ZW_BLK], (*lout)[ZW_BLK];
    uint32_t (*lin32)[ZW_BLK], (*lout32)[ZW_BLK];
} zw_dside;
/* rans16: S steps of tokens (the tables: see delta.c) into zstep, the positions
 * (s0 + s)*32 + l of the tokens >= 16 into big[] (returns their count; the caller
 * guarantees end - p >= 64*S + 64). side_finish: the side work the kernel left. */
typedef struct {
    int P, eshift, emask, elo, C;
    /* the tables (delta.c): token 0 of context c in slots [0, f0[c]), slot k >= f0[c]
     * of context c in tail[tb[c] + k] */
    int32_t f0[ZW_DMAXCTX], tb[ZW_DMAXCTX];
    const uint32_t *tail;
    int s0; /* the block step of the call's first step */
    zw_dside *side; /* NULL: none */
} zw_dctx16;
void zw_delta_simd_init(void); /* from zw_cpu_init */
int zw_delta_rans16_avx2(zw_rdec *d, const zw_dctx16 *cx, const uint16_t *bstep, int S, uint16_t *zstep,
                         uint16_t *big);
int zw_delta_rans16_avx512(zw_rdec *d, const zw_dctx16 *cx, const uint16_t *bstep, int S, uint16_t *zstep,
                           uint16_t *big);
void zw_delta_side_finish_avx2(zw_dside *sw);
/* delta encoder, 16-bit values (delta_avx2.c). count16: the base exponents of n values
 * into eh[256] and, for the values unequal to their base, the tokens of both transforms
 * by exponent into hx[op*256*64 + e*64 + token] (tokens >= 1: an equal value is token 0
 * of both), the extra bit counts into extra[op]; all added to. prep16: a block of S
 * steps at i0 step-major, idx = context * 64 + token of transform op, z, and the
 * positions of the tokens >= 16 in decoding order into big (returns their count; cx:
 * P, eshift, emask, elo, C). enc16: the rANS steps nsteps-1 .. 0 of idx (see delta.c). */
void zw_delta_count16_avx2(const uint8_t *src, const uint8_t *base, size_t n, int eshift, int emask,
                           uint32_t *eh, uint32_t *hx, uint64_t *extra);
int zw_delta_prep16_avx2(const uint8_t *src, const uint8_t *base, size_t seg, size_t i0, int S,
                         const zw_dctx16 *cx, int op, uint16_t *idx, uint16_t *z, uint16_t *big);
void zw_delta_enc16_avx512(uint32_t *xs, const uint16_t *idx, size_t nsteps, const uint64_t *tab, int P,
                           uint8_t **pp);
/* 32-bit values: count32 as count16 (hx[op*256*128 + e*128 + token]); prep32 the steps'
 * part in value order, lidx[j] = context * 128 + token and z[j] for j < 32*seg, then idx
 * step-major as prep16 writes it */
void zw_delta_count32_avx2(const uint8_t *src, const uint8_t *base, size_t n, uint32_t *eh, uint32_t *hx,
                           uint64_t *extra);
void zw_delta_prep32_avx2(const uint8_t *src, const uint8_t *base, size_t seg, const zw_dctx16 *cx, int op,
                          uint16_t *lidx, uint32_t *z, uint16_t *idx);
/* the positions s*32 + l (S <= ZW_BLK steps of step-major indices) whose token, idx &
 * tmask, is >= 16, in decoding order; returns their count (big holds S*32 + 16) */
int zw_delta_bigs_avx2(const uint16_t *idx, int S, int tmask, uint16_t *big);
#endif
