"""The two kernel backends, C (zipweights._ckernels) and Numba (zipweights._numba), give
the same bytes: every kernel, encode and decode, on random data (hypothesis), on real
weights (the MiniLM package) at every level, and on every payload the golden vectors and
error vectors (spec/vectors) hand the kernels, which must decode alike or fail alike
(the same error class, the same message). Each backend is called directly, whichever one
zipweights._kernels picked; the test skips where one of them cannot load."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zipweights
from zipweights import _kernels
from zipweights.errors import ZipWeightsError

try:
    from zipweights import _ckernels as CK
except ImportError as e:  # pragma: no cover - a build without a compiler
    pytest.skip(f"the C kernels are not built ({e})", allow_module_level=True)
pytest.importorskip("numba")
from zipweights import _numba as NK  # noqa: E402

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "spec", "vectors")
LEVELS = range(10)
FLOAT_KINDS = {0: np.uint16, 1: np.uint16, 2: np.uint32}  # BF16, F16, F32
SETTINGS = settings(max_examples=40, deadline=None)


def both(name, *args, out_len=None):
    """the kernel `name` of each backend on the same arguments: (result, dst bytes, or the
    error as (class, message)) per backend. out_len: the kernel writes a dst of that size,
    passed as its last argument."""
    res = []
    for mod in (CK, NK):
        dst = None if out_len is None else bytearray(out_len)
        call = args + ((dst,) if dst is not None else ())
        try:
            r = getattr(mod, name)(*call)
        except (ZipWeightsError, ValueError, TypeError) as e:
            res.append(("error", type(e), str(e)))
            continue
        res.append(("ok", r, None if dst is None else bytes(dst)))
    return res


def _short(r):
    """an outcome, its bytes as length and sha256 (for a readable failure)"""
    return tuple(f"{len(x)} bytes sha256 {hashlib.sha256(x).hexdigest()[:16]}" if isinstance(x, bytes) else x
                 for x in (r[1] if r[0] == "ok" and isinstance(r[1], tuple) else r))


def same(name, *args, out_len=None):
    c, n = both(name, *args, out_len=out_len)
    assert c == n, f"{name}{tuple(a if isinstance(a, int) else len(a) for a in args)}: C {_short(c)} vs Numba {_short(n)}"
    return c


def floats(kind: int, n: int, rng, style: str) -> bytes:
    """n values of the kind: weight-like, with specials, or any bit patterns"""
    v = (rng.standard_normal(n) * 0.02).astype(np.float32)
    if kind == 0:
        u = (v.view(np.uint32) >> 16).astype(np.uint16)
    elif kind == 1:
        u = v.astype(np.float16).view(np.uint16)
    else:
        u = v.view(np.uint32)
    dt = FLOAT_KINDS[kind]
    if style == "specials" and n:
        bits = 8 * np.dtype(dt).itemsize
        sp = np.array([0, 1 << (bits - 1), 1, (1 << (bits - 1)) | 1, (1 << bits) - 1, 0x7F80 if bits == 16 else 0x7F800000,
                       0x7FC1 if bits == 16 else 0x7FC00001], dtype=np.uint64).astype(dt)
        idx = rng.integers(0, n, max(1, n // 7))
        u[idx] = sp[rng.integers(0, len(sp), len(idx))]
    elif style == "any":
        u = rng.integers(0, np.iinfo(dt).max, n, dtype=np.uint64, endpoint=True).astype(dt)
    return u.tobytes()


def check_float(data: bytes, kind: int, levels=LEVELS):
    for lv in levels:
        _, payload, _ = same("float_encode", data, kind, lv)
        same("float_decode", payload, kind, out_len=len(data))


def check_hostile(payload: bytes, decode, rng, *args, out_len):
    """cuts and flipped bytes of a valid payload: both backends decode them alike"""
    for cut in {0, 1, len(payload) // 2, len(payload) - 1}:
        if 0 <= cut < len(payload):
            same(decode, payload[:cut], *args, out_len=out_len)
    for _ in range(6):
        if not payload:
            break
        b = bytearray(payload)
        i = int(rng.integers(0, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
        same(decode, bytes(b), *args, out_len=out_len)
    same(decode, payload + b"\0", *args, out_len=out_len)


# ---------------------------------------------------------------- random data


@SETTINGS
@given(kind=st.sampled_from(sorted(FLOAT_KINDS)), n=st.integers(0, 3000), seed=st.integers(0, 2**32 - 1),
       style=st.sampled_from(["weights", "specials", "any"]), level=st.sampled_from([-1, *LEVELS, 10]))
def test_float_random(kind, n, seed, style, level):
    rng = np.random.default_rng(seed)
    data = floats(kind, n, rng, style)
    _, payload, _ = same("float_encode", data, kind, level)
    same("float_decode", payload, kind, out_len=len(data))
    check_hostile(payload, "float_decode", rng, kind, out_len=len(data))


@SETTINGS
@given(data=st.binary(max_size=4000), seed=st.integers(0, 2**32 - 1))
def test_ent_random(data, seed):
    rng = np.random.default_rng(seed)
    skewed = bytes(np.minimum(rng.geometric(0.3, len(data)), 255).astype(np.uint8))
    for d in (data, skewed):
        _, payload, _ = same("ent_encode", d)
        same("ent_decode", payload, out_len=len(d))
        check_hostile(payload, "ent_decode", rng, out_len=len(d))


@SETTINGS
@given(data=st.binary(max_size=2048), itemsize=st.sampled_from([1, 2, 4, 8]), rotate=st.booleans())
def test_planes_random(data, itemsize, rotate):
    data = data[: len(data) // itemsize * itemsize]
    planes = same("split_planes", data, itemsize, int(rotate), out_len=len(data))[2]
    same("merge_planes", planes, itemsize, int(rotate), out_len=len(data))
    same("split_planes", data + b"\0" * (itemsize > 1), itemsize, int(rotate), out_len=len(data))  # sizes


@SETTINGS
@given(n=st.integers(0, 2000), unit=st.sampled_from([1, 2, 4, 8, 3]), density=st.floats(0, 1),
       seed=st.integers(0, 2**32 - 1))
def test_sparse_random(n, unit, density, seed):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 256, n * unit, dtype=np.uint8)
    u.reshape(-1, unit)[rng.random(n) >= density] = 0
    data = u.tobytes()
    tag, res, _ = same("sparse_split", data, unit)
    if tag == "ok":
        bitmap, values, _ = res
        same("sparse_merge", bitmap, values, unit, out_len=len(data))
        same("sparse_merge", bitmap, values[:-1] if values else b"\1", unit, out_len=len(data))


@SETTINGS
@given(kind=st.sampled_from(sorted(FLOAT_KINDS)), n=st.integers(0, 3000), seed=st.integers(0, 2**32 - 1),
       moved=st.floats(0, 1), spread=st.integers(1, 1 << 12))
def test_delta_random(kind, n, seed, moved, spread):
    rng = np.random.default_rng(seed)
    dt = FLOAT_KINDS[kind]
    base = np.frombuffer(floats(kind, n, rng, "specials"), dt)
    m = rng.random(n) < moved
    tgt = base.astype(np.int64)
    tgt[m] += rng.integers(-spread, spread + 1, int(m.sum()))
    tgt = (tgt & np.iinfo(dt).max).astype(dt).tobytes()
    base = base.tobytes()
    _, payload, _ = same("delta_encode", tgt, base, kind)
    same("delta_decode", payload, base, kind, out_len=len(tgt))
    check_hostile(payload, "delta_decode", rng, base, kind, out_len=len(tgt))


def test_argument_errors_alike():
    for args in [(b"\0" * 3, 0, 0), (b"\0" * 4, 7, 0), (b"\0" * 6, 2, 5)]:
        same("float_encode", *args)
    same("float_decode", b"", 0, out_len=3)
    for args in [(b"\0" * 3, b"\0" * 3, 0), (b"\0" * 4, b"\0" * 2, 0), (b"\0" * 4, b"\0" * 4, 3)]:
        same("delta_encode", *args)
    same("delta_decode", b"", b"\0" * 4, 2, out_len=4)
    same("delta_decode", b"", b"\0" * 8, 2, out_len=4)


# ---------------------------------------------------------------- real weights


def _real_chunks(path: str, limit: int = 1 << 16, every: int = 3):
    """(kind, bytes) of every few float tensors of a safetensors file, up to limit values"""
    with open(path, "rb") as f:
        raw = f.read()
    hlen = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + hlen])
    kinds = {"BF16": (0, 2), "F16": (1, 2), "F32": (2, 4)}
    out = []
    names = sorted(k for k, v in header.items() if k != "__metadata__" and v["dtype"] in kinds)
    for name in names[::every]:
        v = header[name]
        kind, size = kinds[v["dtype"]]
        a, b = v["data_offsets"]
        out.append((kind, raw[8 + hlen + a : 8 + hlen + min(b, a + limit * size)]))
    return out


@pytest.mark.parametrize("label", ["fp32", "bf16", "fp16"])
def test_real_weights_every_level(real_weights, label):
    chunks = _real_chunks(real_weights[label])
    assert len(chunks) >= 10
    for kind, data in chunks:
        check_float(data, kind, LEVELS)
        planes = bytearray(len(data))
        CK.split_planes(data, 2 if kind < 2 else 4, 1, planes)
        for k in range(2 if kind < 2 else 4):  # the planes as the codec hands them to ent
            p = bytes(planes[k * len(data) // (2 if kind < 2 else 4) : (k + 1) * len(data) // (2 if kind < 2 else 4)])
            _, payload, _ = same("ent_encode", p)
            same("ent_decode", payload, out_len=len(p))


def test_real_weights_delta(real_weights):
    # a fine-tune-like pair: the real bf16 weights, and those moved by a relative 1e-3
    rng = np.random.default_rng(5)
    for kind, data in _real_chunks(real_weights["bf16"], every=4) + _real_chunks(real_weights["fp32"], every=6):
        dt = FLOAT_KINDS[kind]
        base = np.frombuffer(data, dt)
        f = base.astype(np.uint32) << 16 if kind == 0 else base
        v = f.view(np.float32) * (1 + rng.standard_normal(len(base)).astype(np.float32) * 1e-3)
        tgt = (v.view(np.uint32) >> 16).astype(np.uint16) if kind == 0 else v.view(np.uint32)
        _, payload, _ = same("delta_encode", tgt.tobytes(), data, kind)
        same("delta_decode", payload, data, kind, out_len=len(data))


# ---------------------------------------------------------------- golden vectors


class Recorder:
    """zipweights._kernels' decode kernels wrapped to record what they are handed (copies
    of the arguments) while the file is read on the C kernels"""

    DECODERS = ("float_decode", "ent_decode", "merge_planes", "sparse_merge", "delta_decode")

    def __init__(self, monkeypatch):
        self.calls = []
        for name in self.DECODERS:
            monkeypatch.setattr(_kernels, name, self._wrap(name))

    def _wrap(self, name):
        real = getattr(CK, name)

        def call(*args):
            *ins, dst = args
            self.calls.append((name, tuple(bytes(a) if not isinstance(a, int) else a for a in ins), len(memoryview(dst).cast("B"))))
            return real(*args)

        return call


def _manifest():
    with open(os.path.join(VECTORS, "manifest.json")) as f:
        m = json.load(f)
    return m["vectors"], m["errors"]


VECTOR_ENTRIES, ERROR_ENTRIES = _manifest()


def _options(entry):
    opts = dict(entry.get("options", {}))
    if entry.get("base"):
        opts["base"] = os.path.join(VECTORS, entry["base"])
    return opts


def _read_all(path, options, restore):
    """the restored file (restore), else each entry's bytes and a verify (an error
    vector's declared sizes may be anything)"""
    with zipweights.ZipwFile(path, **options) as zf:
        if restore:
            out = bytearray(zf.original_size)
            zf.restore_into(out, threads=1)
            return bytes(out)
        parts = []
        for e in zf.entries:  # as tests/format reads them: the reader's own checks first
            if e.kind == 0:
                parts.append(zf.read_bytes(e.name, threads=1))
            else:
                one = bytearray(e.length)
                zf.read_into(e, one, threads=1)
                parts.append(bytes(one))
        zf.verify(threads=1)
        return parts


def _on(monkeypatch, mod):
    for name in _kernels.KERNELS:
        monkeypatch.setattr(_kernels, name, getattr(mod, name))


def _outcome(v):
    try:
        return ("ok", _read_all(os.path.join(VECTORS, v["zipw"]), _options(v), v in VECTOR_ENTRIES))
    except ZipWeightsError as e:
        return ("error", type(e), str(e))


@pytest.mark.parametrize("v", VECTOR_ENTRIES + ERROR_ENTRIES, ids=lambda v: v["name"])
def test_vectors_decode_alike(v, monkeypatch):
    rec = Recorder(monkeypatch)
    on_c = _outcome(v)
    monkeypatch.undo()
    # every payload the reader handed the C kernels decodes (or fails) alike on Numba
    for name, ins, dst_len in rec.calls:
        same(name, *ins, out_len=dst_len)
    # and the whole file on the Numba kernels: the same bytes or the same error
    _on(monkeypatch, NK)
    on_numba = _outcome(v)
    assert _short(on_c) == _short(on_numba)
    assert on_c == on_numba
    if v in VECTOR_ENTRIES:
        with open(os.path.join(VECTORS, v["original"]), "rb") as f:
            assert on_numba == ("ok", f.read())


def test_vectors_reach_every_decoder(monkeypatch):
    # the comparison above is of something: the vectors hand every decode kernel payloads
    rec = Recorder(monkeypatch)
    for v in VECTOR_ENTRIES:
        assert _outcome(v)[0] == "ok"
    assert {c[0] for c in rec.calls} == set(Recorder.DECODERS)
