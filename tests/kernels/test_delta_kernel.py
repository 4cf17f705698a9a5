"""The delta coder's kernels (csrc/delta.c, csrc/delta_avx2.c; spec/CODERS.md 4):
delta_encode / delta_decode round trips, bit for bit, on every kind and SIMD level;
the SIMD and portable paths giving the same bytes (payloads and values); payloads
written by the spec's pure-Python encoder (spec/vectors/make_vectors.py: any op, C,
elo and P, which the kernel's own encoder never varies) decoding to their values; and
hostile payloads raising the right error class on every path.

The comparisons are of bytes, never of values: -0.0, NaN payloads and subnormals must
come back as the very bit patterns they were."""

from __future__ import annotations

import hashlib
import importlib.util
import pathlib
import struct

import ml_dtypes
import numpy as np
import pytest

import zipweights._kernels as K
from zipweights.errors import CorruptDataError, InvalidArgumentError, TruncatedDataError

BF16, F16, F32 = 0, 1, 2
KINDS = (BF16, F16, F32)
UINT = {BF16: np.uint16, F16: np.uint16, F32: np.uint32}
W = {BF16: 16, F16: 16, F32: 32}
EMASK = {BF16: 255, F16: 31, F32: 255}
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _mv():
    """spec/vectors/make_vectors.py: its pure-Python delta payload encoder (written from
    the spec, independent of csrc/)."""
    import sys

    name = "zw_make_vectors"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "spec" / "vectors" / "make_vectors.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def levels() -> list[int]:
    """the SIMD levels this machine has (0 portable, 1 AVX2, 2 AVX-512)"""
    if K.BACKEND != "c":
        return [0]
    before = K._simd()
    top = K._set_simd(2)
    K._set_simd(before)
    return list(range(top + 1))


# ------------------------------------------------------------------------- data
def weights(kind: int, n: int, rng, scale: float = 0.02) -> np.ndarray:
    """n weight-like values of the kind, as their bit patterns"""
    v = rng.standard_normal(n).astype(np.float32) * np.float32(scale)
    if kind == BF16:
        return v.astype(ml_dtypes.bfloat16).view(np.uint16)
    if kind == F16:
        return v.astype(np.float16).view(np.uint16)
    return v.view(np.uint32)


def finetune(kind: int, base: np.ndarray, rng, keep: float = 0.75) -> np.ndarray:
    """a light fine-tune of base: most values kept, most others a few ULPs away, a few
    far (every z token class, extra bits of every length), sign changes across zero"""
    n = len(base)
    u = UINT[kind]
    wide = np.int64 if W[kind] == 32 else np.int32
    mask = (1 << W[kind]) - 1
    r = rng.random(n)
    step = rng.integers(-3, 4, n).astype(wide)
    big = rng.integers(-(1 << (W[kind] - 2)), 1 << (W[kind] - 2), n).astype(wide) >> rng.integers(0, W[kind] - 2, n)
    d = np.where(r < keep, 0, np.where(r < keep + 0.2, step, big))
    t = ((base.astype(wide) + d) & mask).astype(u)
    flip = rng.random(n) < 0.01
    t[flip] ^= u(1 << (W[kind] - 1))
    return t


def specials(kind: int, n: int, rng) -> np.ndarray:
    """bit patterns of NaNs with payloads, +-inf, +-0.0, subnormals, max/min, mixed"""
    if W[kind] == 32:
        pool = [0x7FC00000, 0xFFC00001, 0x7F800001, 0x7FFFFFFF, 0x7F800000, 0xFF800000, 0, 0x80000000,
                1, 0x807FFFFF, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000]
    elif kind == BF16:
        pool = [0x7FC0, 0xFFC1, 0x7F81, 0x7FFF, 0x7F80, 0xFF80, 0, 0x8000, 1, 0x807F, 0x007F, 0x0080,
                0x7F7F, 0xFF7F, 0x3F80]
    else:
        pool = [0x7E00, 0xFE01, 0x7C01, 0x7FFF, 0x7C00, 0xFC00, 0, 0x8000, 1, 0x83FF, 0x03FF, 0x0400,
                0x7BFF, 0xFBFF, 0x3C00]
    return np.array(pool, dtype=UINT[kind])[rng.integers(0, len(pool), n)]


def pair(kind: int, n: int, style: str, seed: int) -> tuple[bytes, bytes]:
    """(target, base) bytes of n values"""
    rng = np.random.default_rng(seed)
    u = UINT[kind]
    if style == "finetune":
        b = weights(kind, n, rng)
        t = finetune(kind, b, rng)
    elif style == "random":  # every bit pattern, nothing in common: long extra bits everywhere
        hi = 1 << W[kind]
        b = rng.integers(0, hi, n, dtype=np.uint64).astype(u)
        t = rng.integers(0, hi, n, dtype=np.uint64).astype(u)
    elif style == "specials":  # special values against weights, weights against specials, specials alone
        b = np.where(rng.random(n) < 0.5, specials(kind, n, rng), weights(kind, n, rng))
        t = np.where(rng.random(n) < 0.5, specials(kind, n, rng), finetune(kind, b, rng))
    elif style == "equal":
        b = weights(kind, n, rng)
        t = b.copy()
    elif style == "xor":  # low mantissa bits flipped: XOR codes them smaller than the difference
        b = weights(kind, n, rng)
        t = b ^ rng.integers(0, 8, n).astype(u) * (rng.random(n) < 0.6)
    elif style == "wide":  # base exponents over the whole range: contexts clamped at both ends
        hi = 1 << W[kind]
        b = rng.integers(0, hi, n, dtype=np.uint64).astype(u)
        t = finetune(kind, b, rng)
    else:
        raise ValueError(style)
    return t.astype(u).tobytes(), b.astype(u).tobytes()


def roundtrip(src: bytes, base: bytes, kind: int) -> bytes:
    p = K.delta_encode(src, base, kind)
    out = bytearray(len(src))
    K.delta_decode(p, base, kind, out)
    assert bytes(out) == src
    return p


def decode(p: bytes, base: bytes, kind: int) -> bytes:
    out = bytearray(len(base))
    K.delta_decode(p, base, kind, out)
    return bytes(out)


STYLES = ("finetune", "random", "specials", "equal", "xor", "wide")
# around the layout's boundaries: 512 values per 16 steps, the tail below 512, the
# decoder's blocks of 128 steps (4096 values) and the kernels' 16-step groups
SIZES = (1, 31, 32, 33, 511, 512, 513, 1023, 1024, 1537, 4095, 4096, 4097, 4608, 8191, 8192,
         8704, 65535, 65536 + 17, 131072 + 511)


# ------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("style", STYLES)
def test_roundtrip_every_level(simd, kind, style):
    for k, n in enumerate(SIZES):
        src, base = pair(kind, n, style, seed=1000 * kind + k)
        payloads = []
        for lv in levels():
            simd(lv)
            payloads.append(roundtrip(src, base, kind))
        assert len(set(payloads)) == 1, f"n={n}: the SIMD levels code different payloads"


@pytest.mark.parametrize("kind", KINDS)
def test_roundtrip_every_small_size(simd, kind):
    # 0..600 values: empty, tails only (below 512), one 16-step segment with a tail
    for n in range(601):
        src, base = pair(kind, n, "finetune" if n % 3 else "specials", seed=n)
        p = None
        for lv in levels():
            simd(lv)
            q = roundtrip(src, base, kind)
            assert p is None or q == p, f"n={n}: level {lv} codes another payload"
            p = q


def test_roundtrip_one_mib_chunks(simd):
    # the writer's chunk size: 524288 bf16 values, 32 lanes of 16384 (a 32 KiB stride)
    src, base = pair(BF16, 1 << 19, "finetune", seed=7)
    src32, base32 = pair(F32, 1 << 18, "finetune", seed=8)
    for lv in levels():
        simd(lv)
        roundtrip(src, base, BF16)
        roundtrip(src32, base32, F32)


def edges(W: int) -> np.ndarray:
    """z around every power of two up to 2^W (each token's first and last z, 2^24 where a
    float stops being exact, the top bit)"""
    zs = {0, 1, 15, 16, 17, (1 << W) - 1}
    for k in range(4, W):
        zs |= {(1 << k) - 1, 1 << k, (1 << k) + 1, (3 << (k - 1)) - 1, 3 << (k - 1), (1 << (k + 1)) - 2}
    return np.array(sorted(z for z in zs if z < 1 << W), dtype=np.uint64)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("op", (0, 1))
def test_token_edges_every_level(simd, kind, op):
    # the SIMD encoders find tokens from floats of z: every token's boundary values, coded
    # against random bases by both transforms, must give the portable path's payload
    W, u = (32, np.uint32) if kind == F32 else (16, np.uint16)
    rng = np.random.default_rng(40 + kind + op)
    z = np.resize(edges(W), 5000)
    rng.shuffle(z)
    b = rng.integers(0, 1 << W, len(z), dtype=np.uint64)
    S, Mk = np.uint64(1 << (W - 1)), np.uint64((1 << W) - 1)
    if op:
        t = b ^ z
    else:  # t = ord^-1(ord(b) + unzigzag(z)), spec 4
        ordb = np.where(b & S, b ^ Mk, b ^ S)
        d = ((z >> np.uint64(1)) ^ (np.uint64(0) - (z & np.uint64(1)))) & Mk
        o = (ordb + d) & Mk
        t = np.where(o & S, o ^ S, o ^ Mk)
    src, base = t.astype(u).tobytes(), b.astype(u).tobytes()
    payloads = set()
    for lv in levels():
        simd(lv)
        payloads.add(roundtrip(src, base, kind))
    assert len(payloads) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_both_ops(kind):
    src, base = pair(kind, 20000, "finetune", seed=3)
    assert roundtrip(src, base, kind)[1] == 0  # ULP moves: the ordinal difference
    src, base = pair(kind, 20000, "xor", seed=4)
    assert roundtrip(src, base, kind)[1] == 1  # flipped bits: the XOR


def test_unaligned_buffers(simd):
    # memoryviews at odd offsets: the kernels must not assume aligned input or output
    src, base = pair(BF16, 9000, "finetune", seed=5)
    sb, bb = bytearray(b"x" + src), bytearray(b"yyy" + base)
    for lv in levels():
        simd(lv)
        p = K.delta_encode(memoryview(sb)[1:], memoryview(bb)[3:], BF16)
        out = bytearray(len(src) + 1)
        K.delta_decode(p, memoryview(bb)[3:], BF16, memoryview(out)[1:])
        assert bytes(out[1:]) == src


# The encoder is deterministic (integer costs): these digests pin its output, so that a
# faster encoder is known to write the very same payloads (spec/CODERS.md 4 fixes only
# the format; these are the informative encoder's choices).
GOLDEN = {
    (BF16, "finetune"): "bbb29f81f9d48c9ed997656eca3f37e8",
    (F16, "finetune"): "7515eb8b2003e65ea4afa8043bbea50d",
    (F32, "finetune"): "de524ba6049e356856bffcaf0c7b26a2",
    (BF16, "specials"): "832dc6a0cae185de645760a80eb0e777",
    (F32, "random"): "caa3023b4eed9b0d63bb20ceb95e283a",
    (BF16, "xor"): "a178f2f27e2e67998e8831347606cfc2",
}


def golden_digest(kind: int, style: str) -> str:
    h = hashlib.sha256()
    for n in (100, 777, 4097, 70000):
        src, base = pair(kind, n, style, seed=n + kind)
        h.update(K.delta_encode(src, base, kind))
    return h.hexdigest()[:32]


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_encoder_output_pinned(simd, key):
    for lv in levels():
        simd(lv)
        assert golden_digest(*key) == GOLDEN[key]


# ------------------------------------------------------------------------- spec encoder
def spec_payload(kind, t, b, op, C, elo, P, extra_tokens=()):
    return _mv().delta_payload([int(v) for v in t], [int(v) for v in b], kind, op, C, elo, P, extra_tokens)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("P", (11, 12, 13, 14))
def test_spec_payloads_decode(simd, kind, P):
    # any op, context window and precision the spec allows; the u32 tables of the SIMD
    # path take P <= 12, so 13 and 14 also check the way around them
    rng = np.random.default_rng(P + 10 * kind)
    for n, C, elo, op in ((700, 1, 0, 0), (1600, 16, 100, 1), (4096 + 600, 5, 118, 0), (9000, 16, 0, 1)):
        if kind == F16:
            elo = min(elo, 31) if elo < 100 else 5
        style = "wide" if C == 16 else "finetune"
        src, base = pair(kind, n, style, seed=int(rng.integers(1 << 30)))
        t = np.frombuffer(src, UINT[kind])
        b = np.frombuffer(base, UINT[kind])
        p = spec_payload(kind, t, b, op, C, elo, P)
        for lv in levels():
            simd(lv)
            assert decode(p, base, kind) == src, f"level {lv}, n={n} C={C} elo={elo} op={op}"


def test_kernel_payloads_match_the_reference_decoder():
    spec = importlib.util.spec_from_file_location("zw_ref_decoder", ROOT / "tests" / "kernels" / "ref_decoder.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    for kind in KINDS:
        for n, style in ((600, "specials"), (1100, "finetune"), (1030, "random")):
            src, base = pair(kind, n, style, seed=n)
            p = K.delta_encode(src, base, kind)
            assert ref.delta_decode(p, kind, base, len(src)) == src


# ------------------------------------------------------------------------- arguments
def test_argument_errors():
    src, base = pair(BF16, 100, "finetune", seed=1)
    for kind in (-1, 3, 255):
        with pytest.raises(InvalidArgumentError):
            K.delta_encode(src, base, kind)
        with pytest.raises(InvalidArgumentError):
            K.delta_decode(b"\x00" * 20, base, kind, bytearray(len(src)))
    with pytest.raises(InvalidArgumentError):  # base of another size
        K.delta_encode(src, base[:-2], BF16)
    with pytest.raises(InvalidArgumentError):
        K.delta_encode(src[:-1], base[:-1], BF16)  # not whole values
    with pytest.raises(InvalidArgumentError):
        K.delta_encode(src[:-2], base[:-2], F32)
    p = K.delta_encode(src, base, BF16)
    with pytest.raises(InvalidArgumentError):
        K.delta_decode(p, base[:-2], BF16, bytearray(len(src)))
    with pytest.raises((InvalidArgumentError, CorruptDataError)):
        K.delta_decode(p, base[:-2], BF16, bytearray(len(src) - 2))


# ------------------------------------------------------------------------- hostile payloads
def layout(p: bytes) -> dict:
    return _mv().delta_layout(p)


def expect(p: bytes, base: bytes, kind: int, cls, simd, nbytes: int | None = None) -> None:
    """every level raises exactly cls (TruncatedDataError is a CorruptDataError: exact
    classes are compared)"""
    for lv in levels():
        simd(lv)
        with pytest.raises(CorruptDataError) as ei:
            K.delta_decode(p, base, kind, bytearray(len(base) if nbytes is None else nbytes))
        assert type(ei.value) is cls, f"level {lv}: {type(ei.value).__name__}: {ei.value}"


def patched(p: bytes, at: int, data: bytes) -> bytes:
    return p[:at] + data + p[at + len(data) :]


@pytest.fixture(scope="module")
def good():
    """(payload, base, src) per kind: a few thousand values with extra bits"""
    out = {}
    for kind in KINDS:
        src, base = pair(kind, 5000, "finetune", seed=kind)
        p = K.delta_encode(src, base, kind)
        assert layout(p)["xlen"] > 0
        out[kind] = (p, base, src)
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_header_fields_out_of_range(simd, good, kind):
    p, base, _ = good[kind]
    cases = [
        (patched(p, 0, bytes([(kind + 1) % 3])), CorruptDataError),  # another kind than the caller's
        (patched(p, 2, struct.pack("<I", 4999)), CorruptDataError),  # n is not the destination's
        (patched(p, 2, struct.pack("<I", 5001)), CorruptDataError),
        (patched(p, 6, b"\x00"), CorruptDataError),  # C = 0
        (patched(p, 6, b"\x11"), CorruptDataError),  # C = 17
        (patched(p, 6, b"\xff"), CorruptDataError),
        (patched(p, 7, bytes([EMASK[kind] + 1])), CorruptDataError) if kind == F16 else None,  # elo
        (patched(p, 8, b"\x0a"), CorruptDataError),  # P = 10
        (patched(p, 8, b"\x0f"), CorruptDataError),  # P = 15
        (patched(p, 8, b"\x00"), CorruptDataError),
        (patched(p, 9, struct.pack("<I", len(p))), TruncatedDataError),  # tables past the end
        (patched(p, 9, struct.pack("<I", 0xFFFFFFFF)), TruncatedDataError),
    ]
    for op in range(2, 256, 37):
        cases.append((patched(p, 1, bytes([op])), CorruptDataError))
    for q, cls in filter(None, cases):
        expect(q, base, kind, cls, simd)


@pytest.mark.parametrize("kind", KINDS)
def test_every_truncation(simd, good, kind):
    p, base, _ = good[kind]
    L = layout(p)
    for cut in range(len(p)):
        q = p[:cut]
        for lv in levels():
            simd(lv)
            with pytest.raises(CorruptDataError) as ei:
                decode(q, base, kind)
            # cut in the header, the tables, the lengths, the extra bits or the rANS
            # states: truncated. Cut inside the rANS words: the stream runs out early
            # (truncated), or a cut the decoder cannot tell from a final state mismatch
            if cut < L["stream"] + 128:
                assert type(ei.value) is TruncatedDataError, (cut, lv, str(ei.value))


@pytest.mark.parametrize("kind", KINDS)
def test_extra_bits_hostile(simd, good, kind):
    p, base, src = good[kind]
    L = layout(p)
    xa, xl = L["xlen_at"], L["xlen"]
    extra = p[L["extra"] : L["stream"]]
    rest = p[L["stream"] :]
    head = p[:xa]
    # one byte short: the raw bits run out (the rANS stream is intact)
    q = head + struct.pack("<I", xl - 1) + extra[:-1] + rest
    expect(q, base, kind, TruncatedDataError, simd)
    # one byte too many: not every raw byte read
    q = head + struct.pack("<I", xl + 1) + extra + b"\x00" + rest
    expect(q, base, kind, CorruptDataError, simd)
    # no extra bits at all
    q = head + struct.pack("<I", 0) + rest
    expect(q, base, kind, TruncatedDataError, simd)
    # xlen beyond the payload
    expect(head + struct.pack("<I", len(p)) + extra + rest, base, kind, TruncatedDataError, simd)


def test_padding_bits_must_be_zero(simd):
    # a payload whose extra bits end inside a byte (found by size), then a padding bit set
    for seed in range(50):
        src, base = pair(BF16, 3000, "finetune", seed=100 + seed)
        p = K.delta_encode(src, base, BF16)
        t = np.frombuffer(src, np.uint16)
        b = np.frombuffer(base, np.uint16)
        nbits = sum(_mv().delta_token(_mv().delta_z(int(x), int(y), p[1], 16))[1] for x, y in zip(t, b))
        if nbits % 8:
            break
    else:
        pytest.fail("no payload with padding bits found")
    last = layout(p)["stream"] - 1
    q = patched(p, last, bytes([p[last] | 0x80]))  # bit 7: padding, as nbits % 8 < 8 bits are used
    assert q != p
    expect(q, base, BF16, CorruptDataError, simd)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_tables(simd, kind):
    rng = np.random.default_rng(9)
    src, base = pair(kind, 1500, "finetune", seed=11)
    t, b = np.frombuffer(src, UINT[kind]), np.frombuffer(base, UINT[kind])
    T = 40 if W[kind] == 16 else 72
    # a token >= T in a table: corrupt, though the alphabet (2^B) holds it
    for tok in (T, T + 1, (1 << (6 if W[kind] == 16 else 7)) - 1):
        expect(spec_payload(kind, t, b, 0, 3, 120 if kind != F16 else 10, 11, extra_tokens=(tok,)), base, kind,
               CorruptDataError, simd)
    # the largest token below T is fine
    p = spec_payload(kind, t, b, 0, 3, 120 if kind != F16 else 10, 11, extra_tokens=(T - 1,))
    for lv in levels():
        simd(lv)
        assert decode(p, base, kind) == src
    L = layout(p)
    # tlen one byte short / long: the tables then end elsewhere than declared
    for dl in (-1, 1):
        q = patched(p, 9, struct.pack("<I", L["tlen"] + dl))
        for lv in levels():
            simd(lv)
            with pytest.raises(CorruptDataError):
                decode(q, base, kind)
    # nused = 0 in the first table
    tb = bytearray(p[13 : 13 + L["tlen"]])
    tb[0] &= 0x80 if W[kind] == 16 else 0  # nused: the first B + 1 bits (7 or 8)
    expect(p[:13] + bytes(tb) + p[13 + L["tlen"] :], base, kind, CorruptDataError, simd)
    # random garbage in the tables: an error, never a crash
    for _ in range(200):
        tb = bytearray(p[13 : 13 + L["tlen"]])
        tb[int(rng.integers(len(tb)))] ^= 1 << int(rng.integers(8))
        for lv in levels():
            simd(lv)
            try:
                decode(p[:13] + bytes(tb) + p[13 + L["tlen"] :], base, kind)
            except CorruptDataError:
                pass


@pytest.mark.parametrize("kind", KINDS)
def test_rans_stream_hostile(simd, good, kind):
    p, base, _ = good[kind]
    s = layout(p)["stream"]
    expect(patched(p, s, struct.pack("<I", 0x7FFF)), base, kind, CorruptDataError, simd)  # state < L
    expect(patched(p, s + 124, struct.pack("<I", 1 << 31)), base, kind, CorruptDataError, simd)  # >= 2^31
    expect(p + b"\x00\x00", base, kind, CorruptDataError, simd)  # trailing bytes
    expect(p[: s + 128], base, kind, TruncatedDataError, simd)  # no words at all


@pytest.mark.parametrize("kind", KINDS)
def test_mutations_agree_across_levels(simd, good, kind):
    # random damage anywhere: every level gives the same outcome (the same bytes, or the
    # same error class), and never crashes
    p, base, _ = good[kind]
    rng = np.random.default_rng(kind + 77)
    for _ in range(300):
        q = bytearray(p)
        for _ in range(int(rng.integers(1, 4))):
            q[int(rng.integers(len(q)))] ^= 1 << int(rng.integers(8))
        outcomes = set()
        for lv in levels():
            simd(lv)
            try:
                outcomes.add(decode(bytes(q), base, kind))
            except CorruptDataError as e:
                outcomes.add(type(e).__name__)
        assert len(outcomes) == 1, outcomes
