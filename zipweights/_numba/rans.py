"""rANS core of the Numba kernels, line for line csrc/rans.c: quantized weights,
normalization, the table bit streams, decode tables and the 32-lane decoder.

Integers are int64 throughout: Numba turns a mix of uint64 and int64 into float64, and
every quantity here fits 63 bits (states < 2^31, counts <= 2^30). A failing function
returns an error id of errs.py with its numbers in info[].

The decoders' hot loop (steps of all 32 lanes while the stream surely holds the words) is
written in LLVM vector IR (steps32 below): LLVM does not vectorize the Numba loop (the
table read is a gather through an index it cannot prove free of the stores), and the
scalar loop ran at the portable C path's speed, a quarter of C's SIMD path."""

from __future__ import annotations

import os
import sys

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import errs as E
from ._log2tab import LOG2TAB

LOG2 = np.array(LOG2TAB, dtype=np.int64)

PB = 12  # ent payloads' precision
PBMIN, PBMAX = 11, 14
L = 1 << 15
LANES = 32
MAXCTX = 16
QMAX = 191
MAXN = 1 << 30
BLK = 128

jit = njit(cache=True, nogil=True)


@jit
def seg_len(n):
    return (n // (16 * LANES)) * 16


@jit
def rd32(p, o):
    return np.int64(p[o]) | (np.int64(p[o + 1]) << 8) | (np.int64(p[o + 2]) << 16) | (np.int64(p[o + 3]) << 24)


@jit
def wr32(p, o, v):
    p[o] = v & 0xFF
    p[o + 1] = (v >> 8) & 0xFF
    p[o + 2] = (v >> 16) & 0xFF
    p[o + 3] = (v >> 24) & 0xFF


@jit
def log2_floor(v):
    b = 0
    while v > 1:
        v >>= 1
        b += 1
    return b


# ---------------------------------------------------------------- quantized weights


@jit
def quantize_count(count, total, pb):
    f16 = (count * (np.int64(16) << pb) + total // 2) // total
    if f16 < (32 << 4):
        q = (f16 + 8) >> 4
        return 1 if q < 1 else q
    s = log2_floor(f16) - 8
    m = (f16 + (np.int64(8) << s)) >> (4 + s)
    if m >= 32:
        m = 16
        s += 1
    q = 32 + (s - 1) * 16 + (m - 16)
    return QMAX if q > QMAX else q


@jit
def qweight(q):
    if q < 32:
        return np.int64(q)
    return np.int64(16 + (q - 32) % 16) << (1 + (q - 32) // 16)


@jit
def normalize_list(q, m, freq, pb):
    """freq[0..m) from the weight codes q[0..m) (all > 0); 0, or -1 when m is not in
    1..2^pb (spec/CODERS.md 1.2, "normalization")."""
    M = np.int64(1) << pb
    if m < 1 or m > M:
        return -1
    W = np.int64(0)
    wmax = np.int64(0)
    imax = 0
    for i in range(m):
        w = qweight(q[i])
        W += w
        if w > wmax:
            wmax = w
            imax = i
    total = np.int64(0)
    for i in range(m):
        f = (qweight(q[i]) * M) // W
        if f < 1:
            f = 1
        freq[i] = f
        total += f
    if total < M:
        freq[imax] = freq[imax] + (M - total)
    elif total > M:
        Ex = total - M
        D = np.int64(0)
        for i in range(m):
            D += np.int64(freq[i]) - 1
        total = 0
        for i in range(m):
            fi = np.int64(freq[i])
            fi = fi - ((fi - 1) * Ex) // D
            freq[i] = fi
            total += fi
        left = total - M
        while left > 0:
            anyd = False
            i = 0
            while i < m and left > 0:
                if freq[i] > 1:
                    freq[i] -= 1
                    left -= 1
                    anyd = True
                i += 1
            if not anyd:
                return -1
    return 0


@jit
def normalize(q, qoff, A, freq, pb):
    """freq[0..A) (0 for unused symbols) from q[qoff .. qoff + A); the number used or -1"""
    ql = np.zeros(4096, np.int64)
    fl = np.zeros(4096, np.int64)
    idx = np.zeros(4096, np.int64)
    m = 0
    for i in range(A):
        freq[i] = 0
        if q[qoff + i]:
            idx[m] = i
            ql[m] = q[qoff + i]
            m += 1
    if normalize_list(ql, m, fl, pb):
        return -1
    for i in range(m):
        freq[idx[i]] = fl[i]
    return m


# ---------------------------------------------------------------- bit I/O, LSB first
# a writer is (buf, st) with st = [base offset, bytes written, accumulator, bits in it];
# a reader is (buf, st) with st = [base offset, length, bit position, overrun]


@jit
def bw_put(buf, st, v, nb):
    if nb <= 0:
        return
    st[2] |= (np.int64(v) & ((np.int64(1) << nb) - 1)) << st[3]
    st[3] += nb
    while st[3] >= 8:
        buf[st[0] + st[1]] = st[2] & 0xFF
        st[1] += 1
        st[2] >>= 8
        st[3] -= 8


@jit
def bw_finish(buf, st):
    if st[3] > 0:
        bw_put(buf, st, 0, 8 - st[3])
    return st[1]


@jit
def br_get(buf, st, nb):
    if nb <= 0:
        return np.int64(0)
    bp = st[2]
    if bp + nb <= st[1] * 8:
        byte = bp >> 3
        sh = bp & 7
        need = (sh + nb + 7) >> 3
        v = np.int64(0)
        o = st[0] + byte
        for i in range(need):
            v |= np.int64(buf[o + i]) << (8 * i)
        st[2] = bp + nb
        return (v >> sh) & ((np.int64(1) << nb) - 1)
    # the bits run past the end: C reads them one by one up to there, then flags it
    st[3] = 1
    st[2] = st[1] * 8
    return np.int64(0)


@jit
def put_gamma(buf, st, v):
    nb = log2_floor(v)
    bw_put(buf, st, 0, nb)
    bw_put(buf, st, 1, 1)
    bw_put(buf, st, v, nb)


@jit
def get_gamma(buf, st):
    nb = 0
    while not br_get(buf, st, 1):
        nb += 1
        if st[3] or nb > 24:
            st[3] = 1
            return np.int64(0)
    return (np.int64(1) << nb) | br_get(buf, st, nb)


@jit
def zigzag(v):
    return v * 2 if v >= 0 else (-v) * 2 - 1


@jit
def unzigzag(z):
    return -((z + 1) >> 1) if (z & 1) else (z >> 1)


@jit
def table_write(buf, st, q, qoff, B):
    A = 1 << B
    nused = 0
    for s in range(A):
        if q[qoff + s] != 0:
            nused += 1
    bw_put(buf, st, nused, B + 1)
    prev = -1
    pq = 0
    for s in range(A):
        qs = np.int64(q[qoff + s])
        if not qs:
            continue
        put_gamma(buf, st, s - prev)
        if prev < 0:
            bw_put(buf, st, qs, 8)
        else:
            put_gamma(buf, st, zigzag(qs - pq) + 1)
        prev = s
        pq = qs


@jit
def table_read_list(buf, st, B, pb, sym, q, res, info):
    """one table into sym[0..m), q[0..m); res[0] = m. Returns 0 or an error id."""
    A = 1 << B
    s = -1
    pq = 0
    nused = br_get(buf, st, B + 1)
    if st[3]:
        return E.T_CUT
    if nused < 1 or nused > A:
        info[0] = nused
        info[1] = A
        return E.T_ALPHABET
    if nused > (1 << pb):
        info[0] = nused
        info[1] = 1 << pb
        return E.T_SLOTS
    for k in range(nused):
        gap = get_gamma(buf, st)
        if st[3]:
            return E.T_TRUNC
        if s + gap >= A:
            return E.T_RANGE
        s += gap
        if k == 0:
            v = br_get(buf, st, 8)
        else:
            v = pq + unzigzag(get_gamma(buf, st) - 1)
        if st[3]:
            return E.T_TRUNC
        if v < 1 or v > QMAX:
            info[0] = v
            return E.T_WEIGHT
        sym[k] = s
        q[k] = v
        pq = v
    res[0] = nused
    return 0


# ---------------------------------------------------------------- tables


@jit
def build_dtab_list(et, c, pb, sym, freq, m, nextctx, has_next):
    """decode table of context c: per slot, freq | start << 16 in the low 32 bits and
    symbol | (next context << pb) << 12 in the high ones (csrc/zw.h, zw_dtabs)"""
    start = np.int64(0)
    base = np.int64(c) << pb
    for i in range(m):
        f = np.int64(freq[i])
        s = np.int64(sym[i])
        nx = np.int64(nextctx[s]) if has_next else np.int64(0)
        ent = (f | (start << 16)) | ((s | (nx << (pb + 12))) << 32)
        for k in range(start, start + f):
            et[base + k] = ent
        start += f


@jit
def build_esym(es, eoff, freq, A, pb):
    """encoder entries es[eoff + s] = (xm1, rcp, bias, cmpl, shift) of symbol s"""
    M = np.int64(1) << pb
    start = np.int64(0)
    for s in range(A):
        f = np.int64(freq[s])
        r = eoff + s
        if not f:
            for k in range(5):
                es[r, k] = 0
            continue
        es[r, 0] = ((L >> pb) << 16) * f - 1
        es[r, 3] = M - f
        if f < 2:
            es[r, 1] = 0xFFFFFFFF
            es[r, 4] = 0
            es[r, 2] = start + M - 1
        else:
            shift = 0
            while f > (np.int64(1) << shift):
                shift += 1
            es[r, 1] = ((np.int64(1) << (shift + 31)) + f - 1) // f
            es[r, 4] = shift - 1
            es[r, 2] = start
        start += f


@jit
def enc_put(x, es, r, out, p):
    """one symbol (encoder entry r) into state x; words go below out[p]. (x, p)"""
    if x > es[r, 0]:
        p -= 2
        out[p] = x & 0xFF
        out[p + 1] = (x >> 8) & 0xFF
        x >>= 16
    q = ((x * es[r, 1]) >> 32) >> es[r, 4]
    return (x + es[r, 2] + q * es[r, 3]) & 0xFFFFFFFF, p


@jit
def rans_encode_bytes(src, n, es, out):
    """the byte coder's stream of src[0..n) into out (room for 130 + 2n); its length"""
    seg = seg_len(n)
    tail = n - LANES * seg
    x = np.full(LANES, L, np.int64)
    tmp = np.empty(4 * LANES + 2 * n + 2, np.uint8)
    wend = 4 * LANES + 2 * n + 2
    p = wend
    for t in range(tail - 1, -1, -1):
        l = t % LANES
        x[l], p = enc_put(x[l], es, np.int64(src[LANES * seg + t]), tmp, p)
    for i in range(seg - 1, -1, -1):
        for l in range(LANES - 1, -1, -1):
            x[l], p = enc_put(x[l], es, np.int64(src[l * seg + i]), tmp, p)
    p -= 4 * LANES
    for l in range(LANES):
        wr32(tmp, p + 4 * l, x[l])
    ln = wend - p
    out[:ln] = tmp[p:wend]
    return ln


# ---------------------------------------------------------------- unaligned access
# little-endian loads and stores of 2, 4, 8 bytes at any offset of a uint8 array (C's
# memcpy): one instruction where Numba would do one per byte. Little-endian hosts only
# (x86-64, arm64: the platforms Numba ships for).


def _data_ptr(context, builder, aty, arr, idx):
    return builder.gep(context.make_array(aty)(context, builder, arr).data, [idx])


@intrinsic
def ld64(typingctx, arr, idx):
    """the 8 bytes of arr at idx as an int64 (little-endian)"""

    def codegen(context, builder, sig, args):
        from llvmlite import ir

        t = ir.IntType(64)
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, t.as_pointer()), typ=t, align=1)

    return types.int64(arr, types.int64), codegen


def _store(bits):
    @intrinsic
    def st(typingctx, arr, idx, val):
        def codegen(context, builder, sig, args):
            from llvmlite import ir

            t = ir.IntType(bits)
            ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
            builder.store(builder.trunc(args[2], t), builder.bitcast(ptr, t.as_pointer()), align=1)
            return context.get_dummy_value()

        return types.void(arr, types.int64, types.int64), codegen

    return st


st16 = _store(16)  # st16(arr, idx, v): the low 2 bytes of v at arr[idx]
st32 = _store(32)


@intrinsic
def copy_bytes(typingctx, dst, doff, src, soff, n):
    """dst[doff:doff + n] = src[soff:soff + n] as one memcpy: Numba's slice assignment
    copies through a temporary when the arrays may overlap (a payload and its output
    never do), 6x slower than C on stored byte planes"""

    def codegen(context, builder, sig, args):
        d = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        s = _data_ptr(context, builder, sig.args[2], args[2], args[3])
        cgutils.raw_memcpy(builder, d, s, args[4], 1)
        return context.get_dummy_value()

    return types.void(dst, types.int64, src, types.int64, types.int64), codegen


# ---------------------------------------------------------------- rANS steps in vector IR
# steps32(x, base, et, pb, p, pos, S, out, ro, w): S steps (a multiple of 8) of the 32
# lanes from the stream at p[pos], the caller having checked that 2*32*S bytes are left
# (one word per lane and step at most). Lane states x[32] and slot bases base[32] (int64)
# are read and written back; step s of lane l writes out[32*s + l] (uint16): the symbol,
# shifted left by w and or-ed with the lane's next w raw bits when w > 0. The raw bits of
# lane l start at byte ro[l] of p, byte-aligned, 8 values in w bytes (a float payload's
# low bits, spec/CODERS.md 3; w <= 8). Returns the bytes of stream used, or -1 where the IR is not
# available (then the caller runs the scalar loop).
#
# One step is the scalar one (csrc/rans.c DEC_ONE) on two vectors of 16 lanes: a gather
# of the table entries, the state update in uint32, then the renormalization as an
# expanding load: the lanes whose state fell below L take the next words in lane order,
# which is the order the scalar loop reads them. LLVM lowers the gathers and expanding
# loads to vpgatherdq/vpexpandw with AVX-512, to AVX2 gathers and shuffles without, and
# to scalar code on targets with neither (still the same bytes: the IR is integer-only).

_V = "<16 x i32>"


def _splat(name, ty, val):
    return (f"  %{name}.i = insertelement <16 x {ty}> poison, {ty} {val}, i32 0\n"
            f"  %{name} = shufflevector <16 x {ty}> %{name}.i, <16 x {ty}> poison, <16 x i32> zeroinitializer\n")


def _ir_step(k, raw):
    """step k of a group of 8: both halves' table steps and outputs, then the two
    renormalizations (a before b: lanes 0..15 read their words first)"""
    V = _V
    t = []
    for h in "ab":
        q = f"{h}{k}"
        t.append(f"""
  %slot{q} = and {V} %x{h}{k}, %smask
  %idx{q} = add {V} %b{h}{k}, %slot{q}
  %ptr{q} = getelementptr i64, ptr %et, {V} %idx{q}
  %en{q} = call <16 x i64> @llvm.masked.gather.v16i64.v16p0(<16 x ptr> %ptr{q}, i32 8, <16 x i1> %true, <16 x i64> poison)
  %lo{q} = trunc <16 x i64> %en{q} to {V}
  %hi64{q} = lshr <16 x i64> %en{q}, %c32q
  %hi{q} = trunc <16 x i64> %hi64{q} to {V}
  %f{q} = and {V} %lo{q}, %cffff
  %st{q} = lshr {V} %lo{q}, %c16
  %xs{q} = lshr {V} %x{h}{k}, %pbv
  %m{q} = mul {V} %f{q}, %xs{q}
  %m2{q} = add {V} %m{q}, %slot{q}
  %xn{q} = sub {V} %m2{q}, %st{q}
  %b{h}{k + 1} = lshr {V} %hi{q}, %c12
  %sy{q} = and {V} %hi{q}, %cfff""")
        if raw:
            t.append(f"""
  %rb64{q} = and <16 x i64> %acc{h}{k}, %rmask
  %rb{q} = trunc <16 x i64> %rb64{q} to {V}
  %acc{h}{k + 1} = lshr <16 x i64> %acc{h}{k}, %wv
  %sys{q} = shl {V} %sy{q}, %wv32
  %hv{q} = or {V} %sys{q}, %rb{q}""")
        else:
            t.append(f"""
  %hv{q} = or {V} %sy{q}, zeroinitializer""")
        t.append(f"""
  %hv16{q} = trunc {V} %hv{q} to <16 x i16>
  %o{q} = add i64 %ob, {32 * k + (16 if h == "b" else 0)}
  %op{q} = getelementptr i16, ptr %out, i64 %o{q}
  store <16 x i16> %hv16{q}, ptr %op{q}, align 2""")
    for h, pin, pout in (("a", f"%p{k}", f"%pm{k}"), ("b", f"%pm{k}", f"%p{k + 1}")):
        q = f"{h}{k}"
        t.append(f"""
  %need{q} = icmp ult {V} %xn{q}, %cL
  %w{q} = call <16 x i16> @llvm.masked.expandload.v16i16(ptr {pin}, <16 x i1> %need{q}, <16 x i16> zeroinitializer)
  %wz{q} = zext <16 x i16> %w{q} to {V}
  %xsh{q} = shl {V} %xn{q}, %c16
  %xor{q} = or {V} %xsh{q}, %wz{q}
  %x{h}{k + 1} = select <16 x i1> %need{q}, {V} %xor{q}, {V} %xn{q}
  %mb{q} = bitcast <16 x i1> %need{q} to i16
  %cnt{q} = call i16 @llvm.ctpop.i16(i16 %mb{q})
  %cz{q} = zext i16 %cnt{q} to i64
  %adv{q} = shl i64 %cz{q}, 1
  {pout} = getelementptr i8, ptr {pin}, i64 %adv{q}""")
    return "".join(t)


def _steps_ir(name, raw):
    V = _V
    G = 8  # steps per group: a lane's 8 raw values are w whole bytes, one 8-byte load
    pre = "".join(_splat(*a) for a in (
        ("smask", "i32", "%sm1"), ("pbv", "i32", "%pb"), ("c32q", "i64", "32"), ("cffff", "i32", "65535"),
        ("c16", "i32", "16"), ("c12", "i32", "12"), ("cfff", "i32", "4095"), ("cL", "i32", str(L)),
        ("true", "i1", "true"), ("wv", "i64", "%w"), ("wv32", "i32", "%w32"), ("rmask", "i64", "%rm2")))
    body = []
    if raw:  # each group's raw bits: 8 bytes from each lane's next w
        body = [_splat("gofv", "i64", "%gof"), """
  %gva = add <16 x i64> %roa, %gofv
  %gvb = add <16 x i64> %rob, %gofv
  %rpa = getelementptr i8, ptr %p.in, <16 x i64> %gva
  %rpb = getelementptr i8, ptr %p.in, <16 x i64> %gvb
  %acca0 = call <16 x i64> @llvm.masked.gather.v16i64.v16p0(<16 x ptr> %rpa, i32 1, <16 x i1> %true, <16 x i64> poison)
  %accb0 = call <16 x i64> @llvm.masked.gather.v16i64.v16p0(<16 x ptr> %rpb, i32 1, <16 x i1> %true, <16 x i64> poison)
"""]
    body += [_ir_step(k, raw) for k in range(G)]
    body = "".join(body)
    regs = ("xa", "xb", "ba", "bb")
    fin = "".join(f"  %{v}.f = phi {V} [%{v}.e, %entry], [%{v}{G}, %loop]\n" for v in regs)
    fin += f"  %pf = phi ptr [%p, %entry], [%p{G}, %loop]\n"
    fin += "".join(f"  %{v}.z = zext {V} %{v}.f to <16 x i64>\n"
                   f"  store <16 x i64> %{v}.z, ptr %{v}.p, align 8\n" for v in regs)
    return f"""
declare <16 x i64> @llvm.masked.gather.v16i64.v16p0(<16 x ptr>, i32, <16 x i1>, <16 x i64>)
declare <16 x i16> @llvm.masked.expandload.v16i16(ptr, <16 x i1>, <16 x i16>)
declare i16 @llvm.ctpop.i16(i16)

define i64 @{name}(ptr %xp, ptr %bp, ptr %et, i64 %pb64, ptr %p.in, i64 %pos, i64 %S, ptr %out, ptr %ro, i64 %w) {{
entry:
  %p = getelementptr i8, ptr %p.in, i64 %pos
  %pb = trunc i64 %pb64 to i32
  %one = shl i32 1, %pb
  %sm1 = sub i32 %one, 1
  %w32 = trunc i64 %w to i32
  %rm1 = shl i64 1, %w
  %rm2 = sub i64 %rm1, 1
{pre}  %xa.p = getelementptr i64, ptr %xp, i64 0
  %xb.p = getelementptr i64, ptr %xp, i64 16
  %ba.p = getelementptr i64, ptr %bp, i64 0
  %bb.p = getelementptr i64, ptr %bp, i64 16
  %ro2 = getelementptr i64, ptr %ro, i64 16
  %roa = load <16 x i64>, ptr %ro, align 8
  %rob = load <16 x i64>, ptr %ro2, align 8
  %xa64 = load <16 x i64>, ptr %xa.p, align 8
  %xb64 = load <16 x i64>, ptr %xb.p, align 8
  %ba64 = load <16 x i64>, ptr %ba.p, align 8
  %bb64 = load <16 x i64>, ptr %bb.p, align 8
  %xa.e = trunc <16 x i64> %xa64 to {V}
  %xb.e = trunc <16 x i64> %xb64 to {V}
  %ba.e = trunc <16 x i64> %ba64 to {V}
  %bb.e = trunc <16 x i64> %bb64 to {V}
  %ng = udiv i64 %S, {G}
  %empty = icmp eq i64 %ng, 0
  br i1 %empty, label %done, label %loop
loop:
  %g = phi i64 [0, %entry], [%g1, %loop]
  %xa0 = phi {V} [%xa.e, %entry], [%xa{G}, %loop]
  %xb0 = phi {V} [%xb.e, %entry], [%xb{G}, %loop]
  %ba0 = phi {V} [%ba.e, %entry], [%ba{G}, %loop]
  %bb0 = phi {V} [%bb.e, %entry], [%bb{G}, %loop]
  %p0 = phi ptr [%p, %entry], [%p{G}, %loop]
  %ob = mul i64 %g, {32 * G}
  %gof = mul i64 %g, %w
{body}
  %g1 = add i64 %g, 1
  %more = icmp ult i64 %g1, %ng
  br i1 %more, label %loop, label %done
done:
{fin}  %pi = ptrtoint ptr %pf to i64
  %pz = ptrtoint ptr %p to i64
  %used = sub i64 %pi, %pz
  ret i64 %used
}}
"""


def _ir_usable() -> bool:
    """the IR above needs opaque pointers (`ptr`: LLVM 15+; llvmlite's LLVM has them only
    from 17 on) and a little-endian host; ZIPWEIGHTS_NUMBA_IR=0 turns it off (for
    comparing the scalar loop: read when a kernel is compiled, so with an empty cache)"""
    import llvmlite.binding as llvm

    if os.environ.get("ZIPWEIGHTS_NUMBA_IR", "1").strip() == "0" or sys.byteorder != "little":
        return False
    return llvm.llvm_version_info[0] >= 17


_IR_LIBS: dict = {}


def _ir_library(context, name, raw):
    """the code library holding the function `name`, compiled once per process; None
    where the IR cannot run (the caller's code then takes the scalar loop)"""
    if name not in _IR_LIBS:
        lib = None
        if _ir_usable():
            import llvmlite.binding as llvm

            mod = llvm.parse_assembly(_steps_ir(name, raw))
            mod.verify()
            lib = context.codegen().create_library(name)
            lib.add_llvm_module(mod)
            lib.finalize()
        _IR_LIBS[name] = lib
    return _IR_LIBS[name]


def _steps_intrinsic(name, raw):
    @intrinsic
    def steps(typingctx, x, base, et, pb, p, pos, S, out, ro, w):
        def codegen(context, builder, sig, args):
            from llvmlite import ir

            i64 = ir.IntType(64)
            lib = _ir_library(context, name, raw)
            if lib is None:
                return ir.Constant(i64, -1)
            context.active_code_library.add_linking_library(lib)
            ptr = ir.IntType(8).as_pointer()
            fnty = ir.FunctionType(i64, [ptr, ptr, ptr, i64, ptr, i64, i64, ptr, ptr, i64])
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)

            def data(i):
                d = context.make_array(sig.args[i])(context, builder, args[i]).data
                return builder.bitcast(d, ptr)

            return builder.call(fn, [data(0), data(1), data(2), args[3], data(4), args[5], args[6], data(7),
                                     data(8), args[9]])

        sig = types.int64(x, base, et, types.int64, p, types.int64, types.int64, out, ro, types.int64)
        return sig, codegen

    return steps


steps32_raw = _steps_intrinsic("zw_numba_steps32_raw", True)  # float payloads: symbols + raw bits
steps32 = _steps_intrinsic("zw_numba_steps32", False)  # ent payloads: symbols (w, ro unused)


# ---------------------------------------------------------------- rANS decode
# a decoder is (x[32], base[32], pos): states, slot bases of the lanes' next contexts, and
# the next word's offset in the payload; `end` is the stream's end


@jit
def rdec_init(p, start, ln, x, base, info):
    if ln < 4 * LANES:
        info[0] = ln
        return E.R_STATES
    for l in range(LANES):
        x[l] = rd32(p, start + 4 * l)
        base[l] = 0
        if x[l] < L or x[l] >= (np.int64(1) << 31):
            return E.R_STATE
    return 0


@jit
def rdec_block(p, pos, end, x, base, et, pb, S, out, res):
    """steps of all lanes into out[s*32 + l]; res[0] = the new pos. 0 or an error id."""
    smask = (np.int64(1) << pb) - 1
    if end - pos >= 2 * LANES * S:
        # enough words for the worst case: no check per word
        for s in range(S):
            o = s * LANES
            for l in range(LANES):
                xx = x[l]
                slot = xx & smask
                en = et[base[l] + slot]
                xx = (en & 0xFFFF) * (xx >> pb) + slot - ((en >> 16) & 0xFFFF)
                sy = en >> 32
                base[l] = sy >> 12
                out[o + l] = sy & 0xFFF
                x[l] = xx
            for l in range(LANES):
                # branchless (as csrc/rans.c): whether a lane renormalizes is data, and
                # the branch mispredicted half the time
                xx = x[l]
                need = np.int64(xx < L)
                wv = np.int64(p[pos]) | (np.int64(p[pos + 1]) << 8)
                x[l] = ((xx << 16) | wv) if need else xx
                pos += 2 * need
    else:
        for s in range(S):
            for l in range(LANES):
                xx = x[l]
                slot = xx & smask
                en = et[base[l] + slot]
                xx = (en & 0xFFFF) * (xx >> pb) + slot - ((en >> 16) & 0xFFFF)
                sy = en >> 32
                base[l] = sy >> 12
                out[s * LANES + l] = sy & 0xFFF
                if xx < L:
                    if end - pos < 2:
                        return E.R_EARLY
                    xx = (xx << 16) | np.int64(p[pos]) | (np.int64(p[pos + 1]) << 8)
                    pos += 2
                x[l] = xx
    res[0] = pos
    return 0


@jit
def rdec_tail(p, pos, end, x, base, et, pb, r, out, res):
    smask = (np.int64(1) << pb) - 1
    for k in range(r):
        l = k % LANES
        xx = x[l]
        slot = xx & smask
        en = et[base[l] + slot]
        xx = (en & 0xFFFF) * (xx >> pb) + slot - ((en >> 16) & 0xFFFF)
        sy = en >> 32
        base[l] = sy >> 12
        out[k] = sy & 0xFFF
        if xx < L:
            if end - pos < 2:
                return E.R_EARLY
            xx = (xx << 16) | np.int64(p[pos]) | (np.int64(p[pos + 1]) << 8)
            pos += 2
        x[l] = xx
    res[0] = pos
    return 0


@jit
def rdec_finish(pos, end, x, info):
    for l in range(LANES):
        if x[l] != L:
            return E.R_FINAL
    if pos != end:
        info[0] = end - pos
        return E.R_TRAIL
    return 0
