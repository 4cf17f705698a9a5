"""Tests of the compiled entropy kernels: ent_encode/ent_decode (order-0 byte coder) and
float_encode/float_decode (whole-chunk float codec). Round trips compare bytes exactly;
corrupt payloads must raise CorruptDataError (or, where the damage hits stored raw bits that
no kernel can check, decode to some bytes of the right size without crashing)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ml_dtypes
import zipweights._kernels as K
from zipweights.errors import CorruptDataError, InvalidArgumentError

BF16, F16, F32 = 0, 1, 2
DT = {BF16: ml_dtypes.bfloat16, F16: np.float16, F32: np.float32}
ISZ = {BF16: 2, F16: 2, F32: 4}
rng = np.random.default_rng(1234)


def ent_rt(data: bytes) -> bytes:
    p = K.ent_encode(data)
    out = bytearray(len(data))
    K.ent_decode(p, out)
    assert bytes(out) == data
    return p


def float_rt(data: bytes, kind: int, level: int = 1) -> bytes:
    p = K.float_encode(data, kind, level)
    out = bytearray(len(data))
    K.float_decode(p, kind, out)
    assert bytes(out) == data
    return p


# ---------------------------------------------------------------- ent


@pytest.mark.parametrize("n", [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 1000, 4097, 100_001])
def test_ent_roundtrip_shapes(n):
    ent_rt(rng.integers(0, 256, n, dtype=np.uint8).tobytes())  # noise -> stored
    ent_rt(bytes(n))  # all same
    ent_rt((rng.random(n) < 0.1).astype(np.uint8).tobytes())  # two symbols
    ent_rt(np.minimum(rng.geometric(0.2, n), 255).astype(np.uint8).tobytes())  # skewed


def test_ent_compresses_and_falls_back():
    skew = np.minimum(rng.geometric(0.3, 200_000), 255).astype(np.uint8).tobytes()
    assert len(ent_rt(skew)) < 0.5 * len(skew)
    noise = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    assert len(ent_rt(noise)) <= len(noise) + 16
    assert len(ent_rt(bytes(100_000))) < 16
    # all 256 symbols, each exactly once / many times
    ent_rt(bytes(range(256)))
    ent_rt(bytes(range(256)) * 1000)


def test_ent_buffer_types():
    data = np.minimum(rng.geometric(0.3, 5000), 255).astype(np.uint8)
    p = K.ent_encode(memoryview(data))
    assert p == K.ent_encode(data.tobytes()) == K.ent_encode(bytearray(data.tobytes()))
    out = np.zeros(5000, np.uint8)
    K.ent_decode(memoryview(p), out)
    assert out.tobytes() == data.tobytes()


@given(st.binary(max_size=3000))
def test_ent_hypothesis(data):
    ent_rt(data)


def test_ent_wrong_dst_size():
    p = K.ent_encode(b"hello world" * 100)
    with pytest.raises(CorruptDataError, match="size mismatch"):
        K.ent_decode(p, bytearray(1099))


# ---------------------------------------------------------------- float


def special_values(kind: int) -> np.ndarray:
    """NaN payloads, signed zeros, infinities, subnormals, extremes, as raw integers."""
    if ISZ[kind] == 2:
        if kind == BF16:
            vals = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81, 0x7FFF, 0x0001,
                    0x8001, 0x007F, 0x7F7F, 0xFF7F, 0x0080, 0x3F80]
        else:
            vals = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0xFE01, 0x7C01, 0x7FFF, 0x0001,
                    0x8001, 0x03FF, 0x7BFF, 0xFBFF, 0x0400, 0x3C00]
        return np.array(vals, np.uint16)
    vals = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001,
            0x7F800001, 0x7FFFFFFF, 0x00000001, 0x80000001, 0x007FFFFF, 0x7F7FFFFF, 0xFF7FFFFF,
            0x00800000, 0x3F800000]
    return np.array(vals, np.uint32)


def weights_like(kind: int, n: int, scale=0.02) -> bytes:
    return (rng.standard_normal(n) * scale).astype(DT[kind]).tobytes()


@pytest.mark.parametrize("kind", [BF16, F16, F32])
@pytest.mark.parametrize("n", [0, 1, 2, 31, 255, 256, 257, 1000, 4099, 65_536, 100_003])
def test_float_roundtrip_sizes(kind, n):
    for level in (0, 1):
        float_rt(weights_like(kind, n), kind, level)


@pytest.mark.parametrize("kind", [BF16, F16, F32])
def test_float_special_values(kind):
    sp = special_values(kind)
    utype = sp.dtype
    n = 50_000
    base = np.frombuffer(weights_like(kind, n), utype).copy()
    idx = rng.integers(0, n, 5000)
    base[idx] = sp[rng.integers(0, len(sp), len(idx))]
    float_rt(base.tobytes(), kind)
    float_rt(np.resize(sp, 10_000).tobytes(), kind)  # only specials
    # random bit patterns (all NaN payloads etc.): must still round-trip (stored or coded)
    bits = rng.integers(0, 2 ** (8 * ISZ[kind]), 20_000, dtype=np.uint64).astype(utype)
    float_rt(bits.tobytes(), kind)


@pytest.mark.parametrize("kind", [BF16, F16, F32])
def test_float_degenerate(kind):
    n = 70_000
    isz = ISZ[kind]
    float_rt(bytes(n * isz), kind)  # all +0.0
    one = np.frombuffer(weights_like(kind, 1, 1.0), np.uint8)
    float_rt(np.tile(one, n).tobytes(), kind)  # all the same value
    two = np.frombuffer(weights_like(kind, 2, 1.0), np.uint8).reshape(2, isz)
    pick = rng.integers(0, 2, n)
    float_rt(two[pick].tobytes(), kind)  # two values
    # a single exponent, many mantissas; and wildly spread magnitudes
    float_rt((1.0 + rng.random(n)).astype(DT[kind]).tobytes(), kind)
    wide = rng.standard_normal(n) * np.exp(rng.uniform(-30, 30, n))
    with np.errstate(over="ignore"):
        wide = wide.astype(DT[kind])
    float_rt(wide.tobytes(), kind)


@pytest.mark.parametrize("kind", [BF16, F16, F32])
def test_float_compresses(kind):
    data = weights_like(kind, 131_072)
    p = float_rt(data, kind)
    bound = {BF16: 0.70, F16: 0.88, F32: 0.86}[kind]
    assert len(p) < bound * len(data)


@given(st.binary(max_size=4000), st.sampled_from([BF16, F16, F32]))
def test_float_hypothesis_bytes(data, kind):
    data = data[: len(data) - len(data) % ISZ[kind]]
    float_rt(data, kind)


def test_float_determinism_and_threads():
    from concurrent.futures import ThreadPoolExecutor

    chunks = [weights_like(BF16, 40_000 + i) for i in range(8)]
    ref = [K.float_encode(c, BF16, 1) for c in chunks]
    with ThreadPoolExecutor(4) as ex:
        again = list(ex.map(lambda c: K.float_encode(c, BF16, 1), chunks))
        assert again == ref
        outs = [bytearray(len(c)) for c in chunks]
        list(ex.map(lambda a: K.float_decode(a[0], BF16, a[1]), zip(ref, outs)))
    assert [bytes(o) for o in outs] == chunks


def test_float_argument_errors():
    data = weights_like(BF16, 1000)
    with pytest.raises(InvalidArgumentError, match="kind"):
        K.float_encode(data, 7, 1)
    with pytest.raises(InvalidArgumentError, match="multiple"):
        K.float_encode(data[:-1], BF16, 1)
    p = K.float_encode(data, BF16, 1)
    with pytest.raises(CorruptDataError, match="kind mismatch"):
        K.float_decode(p, F16, bytearray(len(data)))
    with pytest.raises(CorruptDataError, match="size mismatch"):
        K.float_decode(p, BF16, bytearray(len(data) + 2))
    with pytest.raises(InvalidArgumentError):
        K.float_decode(p, 9, bytearray(len(data)))


def test_scalar_and_simd_paths_agree(simd):
    # level 0 forces the portable decoders, 1 the AVX2 ones, 2 the AVX-512 ones (each
    # capped by the CPU; ZW_NO_SIMD=1 / ZW_NO_AVX512=1 at import do the same); all must
    # give the same bytes
    rows = rng.standard_normal((200, 300)) * np.exp(rng.uniform(-4, 1, (200, 1)))
    ent_src = np.minimum(rng.geometric(0.2, 70_001), 255).astype(np.uint8).tobytes()
    payloads = {}
    for level in (2, 1, 0):
        simd(level)
        ent_rt(ent_src)
        for kind in (BF16, F16, F32):
            for n in (60_000, 60_000 + 511, 60_000 + 17, 1030):
                for level in (0, 1, 2):
                    p = float_rt(rows.astype(DT[kind]).tobytes()[: n * ISZ[kind]], kind, level)
                    payloads.setdefault((kind, n, level), set()).add(p)
    # the encoders are deterministic across code paths too
    assert all(len(v) == 1 for v in payloads.values())


def sign_runs(kind: int, n: int, flip: float = 0.1) -> bytes:
    """Weights whose signs come in runs (neighbouring convolution weights often agree)."""
    mag = np.abs(rng.standard_normal(n)) * 0.02
    sign = np.where(np.cumsum(rng.random(n) < flip) % 2 == 0, 1.0, -1.0)
    return (mag * sign).astype(DT[kind]).tobytes()


@pytest.mark.parametrize("kind", [BF16, F16, F32])
def test_float_sign_contexts(kind, simd):
    # correlated signs: the encoder splits its contexts by the previous sign (mode 2),
    # which must be smaller than the best it can do without (level 0 never splits)
    data = sign_runs(kind, 70_000)
    for level in (2, 0):
        simd(level)
        p = float_rt(data, kind, 1)
        assert p[1] == 2 and p[7] % 2 == 0
        assert float_rt(data, kind, 3) == K.float_encode(data, kind, 3)
    simd(2)
    plain = float_rt(data, kind, 0)
    assert plain[1] == 1 and len(p) < len(plain) - 70_000 // 20  # >= 0.4 bits per value saved
    # independent signs: the split does not pay, mode 1 stays
    assert K.float_encode(weights_like(kind, 70_000), kind, 1)[1] == 1
    # an odd context count cannot be split by sign
    b = bytearray(p)
    b[7] = 3
    with pytest.raises(CorruptDataError, match="context count"):
        K.float_decode(bytes(b), kind, bytearray(len(data)))


def test_float_real_like_tensor_shapes():
    # rows of different scales (like a real weight matrix) exercise the contexts
    rows = rng.standard_normal((300, 384)) * np.exp(rng.uniform(-4, 1, (300, 1)))
    for kind in (BF16, F16, F32):
        float_rt(rows.astype(DT[kind]).tobytes(), kind)


# ---------------------------------------------------------------- corruption


def _decode_or_error(fn, payload, n):
    out = bytearray(n)
    try:
        fn(payload, out)
    except CorruptDataError:
        return "error"
    return "ok"


def _corruption_checks(payload: bytes, decode, n: int, flips: int = 400):
    # every truncation must raise
    for cut in range(len(payload)):
        with pytest.raises(CorruptDataError):
            decode(payload[:cut], bytearray(n))
    # trailing bytes must raise
    with pytest.raises(CorruptDataError):
        decode(payload + b"\0", bytearray(n))
    # single-bit flips: ValueError or some output, never a crash
    undetected = 0
    positions = rng.integers(0, len(payload) * 8, flips)
    for bit in positions:
        b = bytearray(payload)
        b[bit >> 3] ^= 1 << (bit & 7)
        if _decode_or_error(decode, bytes(b), n) == "ok":
            undetected += 1
    return undetected


def test_ent_corruption():
    data = np.minimum(rng.geometric(0.25, 3000), 255).astype(np.uint8).tobytes()
    p = K.ent_encode(data)
    assert p[0] == 2  # rANS mode
    undetected = _corruption_checks(p, K.ent_decode, len(data))
    # rANS final-state checks catch nearly every flip in a coded stream
    assert undetected < 40


@pytest.mark.parametrize("kind", [BF16, F16, F32])
def test_float_corruption(kind):
    data = weights_like(kind, 2000)
    p = K.float_encode(data, kind, 1)
    assert p[1] == 1  # coded mode
    dec = lambda pay, out: K.float_decode(pay, kind, out)  # noqa: E731
    # flips in the packed raw mantissa bits cannot be detected (the container checksums
    # them), so only require that decoding never crashes and most flips are caught
    undetected = _corruption_checks(p, dec, len(data), flips=300)
    assert undetected < 300
    p = K.float_encode(sign_runs(kind, 2000), kind, 1)
    assert p[1] == 2  # coded, contexts split by sign
    assert _corruption_checks(p, dec, 2000 * ISZ[kind], flips=300) < 300


def test_float_stored_corruption():
    data = bytes(range(200))  # 100 bf16 values: too small to code -> stored
    p = K.float_encode(data, BF16, 1)
    assert p[1] == 0
    for cut in range(len(p)):
        with pytest.raises(CorruptDataError):
            K.float_decode(p[:cut], BF16, bytearray(len(data)))


def test_malicious_headers():
    data = weights_like(BF16, 5000)
    p = bytearray(K.float_encode(data, BF16, 1))
    for off, val in [(1, 7), (6, 3), (6, 13), (7, 0), (7, 17), (8, 10), (8, 15)]:
        b = bytearray(p)
        b[off] = val
        with pytest.raises(CorruptDataError):
            K.float_decode(bytes(b), BF16, bytearray(len(data)))
    # huge declared table length
    b = bytearray(p)
    pos = 9 + (b[7] - 1)
    b[pos : pos + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    with pytest.raises(CorruptDataError):
        K.float_decode(bytes(b), BF16, bytearray(len(data)))
    # ent: unknown mode, huge table length, garbage
    e = bytearray(K.ent_encode(np.minimum(rng.geometric(0.3, 1000), 255).astype(np.uint8)))
    for mode in (3, 255):
        b = bytearray(e)
        b[0] = mode
        with pytest.raises(CorruptDataError):
            K.ent_decode(bytes(b), bytearray(1000))
    b = bytearray(e)
    b[5:9] = (0x7FFFFFFF).to_bytes(4, "little")
    with pytest.raises(CorruptDataError):
        K.ent_decode(bytes(b), bytearray(1000))
    for _ in range(200):
        junk = rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
        for kind in (BF16, F16, F32):
            _decode_or_error(lambda pay, out: K.float_decode(pay, kind, out), junk, 512)
        _decode_or_error(K.ent_decode, junk, 300)


# ---------------------------------------------------------------- the spec


def test_reference_decoder_from_spec():
    """tests/kernels/ref_decoder.py implements spec/CODERS.md in plain Python; it must
    decode real kernel payloads to the same bytes (checks that the spec is exact)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).with_name("ref_decoder.py")
    spec = importlib.util.spec_from_file_location("zw_ref_decoder", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    for data in (bytes(100), bytes(range(256)) * 3, np.minimum(rng.geometric(0.2, 3001), 255).astype(np.uint8).tobytes()):
        assert ref.ent_decode(K.ent_encode(data), len(data)) == data
    rows = rng.standard_normal((9, 300)) * np.exp(rng.uniform(-4, 1, (9, 1)))
    for kind in (BF16, F16, F32):
        for n in (300, 2700):
            data = rows.ravel()[:n].astype(DT[kind]).tobytes()
            for level in (0, 1, 2):
                p = K.float_encode(data, kind, level)
                assert ref.float_decode(p, kind, len(data)) == data
        sp = np.resize(special_values(kind), 1200).tobytes()
        assert ref.float_decode(K.float_encode(sp, kind, 2), kind, len(sp)) == sp
        data = sign_runs(kind, 3000)
        p = K.float_encode(data, kind, 2)
        assert p[1] == 2 and ref.float_decode(p, kind, len(data)) == data
    # a chunk large enough for 13-bit precision at level 2
    data = (rng.standard_normal(40_000) * 0.02).astype(ml_dtypes.bfloat16).tobytes()
    p = K.float_encode(data, BF16, 2)
    assert p[8] == 13
    assert ref.float_decode(p, BF16, len(data)) == data


# ---------------------------------------------------------------- crafted tables


def _make_vectors():
    """spec/vectors/make_vectors.py: its pure-Python table writer (spec/CODERS.md 1.2)
    builds payloads the encoder never would."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "spec" / "vectors" / "make_vectors.py"
    spec = importlib.util.spec_from_file_location("make_vectors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table(symbols: list[int], q: int, B: int) -> bytes:
    mv = _make_vectors()
    w = mv.BitWriter()
    mv.write_table(w, {s: q for s in symbols}, B)  # one weight code for every symbol
    return w.bytes()


def _float_payload(kind: int, n: int, B: int, P: int, table: bytes, rest_bits: int) -> bytes:
    head = bytes([kind, 1]) + n.to_bytes(4, "little") + bytes([B, 1, P])
    rest = bytes((n * rest_bits + 7) // 8)
    states = (1 << 15).to_bytes(4, "little") * 32
    return head + len(table).to_bytes(4, "little") + table + rest + states


@pytest.mark.parametrize("nused", [2049, 3000, 4096])
@pytest.mark.parametrize("weight", [1, 100])
def test_float_table_larger_than_its_precision(nused, weight):
    # B = 12 allows 4096 symbols, P = 11 only 2048 slots: such a table once made the
    # decoder divide by zero (all weights 1) or write past its table (issue #11)
    table = _table(list(range(nused)), weight, 12)
    p = _float_payload(BF16, 4096, 12, 11, table, 4)
    with pytest.raises(CorruptDataError, match="do not fit"):
        K.float_decode(p, BF16, bytearray(8192))
    # the same table at P = 12 is well-formed: the error is the table's, not the payload's
    p12 = _float_payload(BF16, 4096, 12, 12, table, 4)
    with pytest.raises(CorruptDataError) as exc:
        K.float_decode(p12, BF16, bytearray(8192))
    assert "do not fit" not in str(exc.value)


def test_ent_table_rules():
    # the byte coder's table: 256 symbols at P = 12 always fit; its other rules still hold
    table = _table(list(range(256)), 1, 8)
    p = bytes([2]) + (1000).to_bytes(4, "little") + len(table).to_bytes(4, "little") + table
    with pytest.raises(CorruptDataError):
        K.ent_decode(p + bytes(128), bytearray(1000))


def _wide_exponents(n: int, stay: float, far: float) -> bytes:
    """BF16 values whose 12-bit symbols are predictable (skewed mantissa tops, sign runs,
    exponents mostly in a narrow band) yet spread: a jump lands on any exponent. The
    encoder's best split is then many contexts of >1,000 distinct symbols each."""
    seg = n // 32
    stay_m, far_m = rng.random(n) < stay, rng.random(n) < far
    jump, near = rng.integers(1, 255, n), rng.integers(120, 131, n)
    ex = np.empty(n, np.uint32)
    for lane in range(32):
        cur = 125
        for i in range(lane * seg, (lane + 1) * seg):
            if not stay_m[i] or not 120 <= cur <= 130:
                cur = jump[i] if far_m[i] else near[i]
            ex[i] = cur
    top = rng.choice(8, n, p=[0.5, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.38]).astype(np.uint32)
    low = rng.integers(0, 16, n).astype(np.uint32)
    sign = np.concatenate([np.cumsum(rng.random(seg) < 0.02) % 2 for _ in range(32)]).astype(np.uint32)
    return ((sign << 15) | (ex << 7) | (top << 4) | low).astype(np.uint16).tobytes()


def _tables_of(p: bytes):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).with_name("ref_decoder.py")
    spec = importlib.util.spec_from_file_location("zw_ref_decoder", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    B, C, P = p[6], p[7], p[8]
    pos = 9 + (C // 2 if p[1] == 2 else C) - 1
    tlen = int.from_bytes(p[pos : pos + 4], "little")
    br = ref.BitReader(p[pos + 4 : pos + 4 + tlen])
    return B, C, P, [len(ref.read_table(br, B, 14)) for _ in range(C)]


@pytest.mark.parametrize("stay,far", [(0.7, 0.5), (0.7, 0.6), (0.6, 0.6)])
def test_encoder_precision_holds_its_symbols(stay, far):
    # below level 6, 16 contexts cap P at 11 (decode tables in L2); a context of more
    # than 2^P used symbols must raise P instead (the decoder rejects such a table)
    data = _wide_exponents(1 << 18, stay, far)
    for level in (1, 3):
        p = float_rt(data, BF16, level)
        assert p[1] == 2
        B, C, P, used = _tables_of(p)
        assert max(used) > 400 and (1 << P) >= max(used)


def test_simd_level_probed_once_and_capped():
    # the CPU is probed once at import; ZW_NO_SIMD=1 / ZW_NO_AVX512=1 then cap the level
    # for the process (the fuzz replay runs each path so), _set_simd for the tests
    import os
    import subprocess
    import sys

    def level(**env):
        code = "import zipweights._kernels as K; print(K._simd())"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True).stdout
        return int(out)

    best = level(ZW_NO_SIMD="0", ZW_NO_AVX512="0")
    assert level(ZW_NO_SIMD="1") == 0
    assert level(ZW_NO_AVX512="1", ZW_NO_SIMD="0") == min(best, 1)
    before = K._simd()
    try:
        assert K._set_simd(99) == best and K._set_simd(-3) == 0 and K._simd() == 0
    finally:
        K._set_simd(before)
