"""The kernels in Numba, for where the C extension was not built: the functions of
zipweights._ckernels under the same names and arguments, producing the same bytes and
raising the same errors (spec/CODERS.md is the contract; tests/kernels/test_backends.py
compares the two). The jitted bodies release the GIL (nogil), so zipweights/_parallel.py's
threads decode chunks in parallel as they do with C; they are compiled on first use and
cached on disk (cache=True, in __pycache__ or NUMBA_CACHE_DIR)."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError, LimitExceededError
from . import delta, ent, errs, floatc, layout
from .rans import MAXN


def _src(buf) -> np.ndarray:
    """a read-only uint8 view of any C-contiguous buffer (bytes, bytearray, memoryview,
    numpy): read-only always, so each kernel is compiled (and cached) for one type"""
    a = np.frombuffer(memoryview(buf).cast("B"), np.uint8)
    a.flags.writeable = False
    return a


def _dst(buf) -> np.ndarray:
    mv = memoryview(buf)
    if mv.readonly:
        raise TypeError(f"a writable bytes-like object is required, not '{type(buf).__name__}'")
    return np.frombuffer(mv.cast("B"), np.uint8)


def _info() -> np.ndarray:
    return np.zeros(4, np.int64)


def _check(err: int, info) -> None:
    if err:
        errs.raise_for(err, info)


# ---------------------------------------------------------------- byte planes


def _plane_args(src, itemsize, rotate, dst):
    itemsize, rotate = int(itemsize), int(rotate)
    s, d = _src(src), _dst(dst)
    if itemsize not in (1, 2, 4, 8):
        raise InvalidArgumentError(f"itemsize must be 1, 2, 4 or 8, got {itemsize}")
    if len(s) % itemsize or len(d) != len(s):
        raise InvalidArgumentError(
            f"buffer sizes do not match: src {len(s)} bytes, dst {len(d)} bytes, itemsize {itemsize}"
        )
    return s, len(s) // itemsize, itemsize, rotate != 0, d


def split_planes(src, itemsize, rotate, dst) -> None:
    """split_planes(src, itemsize, rotate, dst): values -> byte planes, MSB plane first"""
    layout.split_planes(*_plane_args(src, itemsize, rotate, dst))


def merge_planes(src, itemsize, rotate, dst) -> None:
    """merge_planes(src, itemsize, rotate, dst): byte planes -> values"""
    layout.merge_planes(*_plane_args(src, itemsize, rotate, dst))


# ---------------------------------------------------------------- sparse


def _check_unit(unit: int, n: int) -> None:
    if unit not in (1, 2, 4, 8):
        raise InvalidArgumentError(f"unit must be 1, 2, 4 or 8, got {unit}")
    if n % unit:
        raise InvalidArgumentError(f"{n} bytes are not whole {unit}-byte values")


def sparse_split(src, unit):
    """sparse_split(src, unit) -> (bitmap, values, nnz)"""
    unit = int(unit)
    s = _src(src)
    _check_unit(unit, len(s))
    m = len(s) // unit
    bitmap = np.empty((m + 7) // 8, np.uint8)
    vals = np.empty(len(s), np.uint8)
    nnz = layout.sparse_split(s, m, unit, bitmap, vals)
    return bitmap.tobytes(), vals[: nnz * unit].tobytes(), int(nnz)


def sparse_merge(bitmap, values, unit, dst) -> None:
    """sparse_merge(bitmap, values, unit, dst); CorruptDataError when they disagree"""
    unit = int(unit)
    b, v, d = _src(bitmap), _src(values), _dst(dst)
    _check_unit(unit, len(d))
    _check_unit(unit, len(v))
    info = _info()
    _check(layout.sparse_merge(b, len(b), v, len(v) // unit, unit, d, len(d) // unit, info), info)


# ---------------------------------------------------------------- ent


def ent_encode(src) -> bytes:
    """ent_encode(src) -> bytes: order-0 rANS byte coder (self-contained payload)"""
    s = _src(src)
    if len(s) > MAXN:
        raise LimitExceededError(f"ent_encode: input too large ({len(s)} bytes)")
    out = np.empty(ent.bound(len(s)), np.uint8)
    n = ent.encode(s, 0, len(s), out, 0)
    return out[:n].tobytes()


def ent_decode(payload, dst) -> None:
    """ent_decode(payload, dst): decode into dst (len(dst) = original length)"""
    p, d = _src(payload), _dst(dst)
    info = _info()
    _check(ent.decode(p, 0, len(p), d, 0, len(d), info), info)


# ---------------------------------------------------------------- float


def _kind(kind: int, nbytes: int, what: str):
    """zw_float_check / the decoder's first checks: kind, whole values, the limit"""
    if kind not in floatc.KINDS:
        errs.raise_for(errs.F_KIND, [kind])
    k = floatc.KINDS[kind]
    size = k[0] // 8
    if nbytes % size:
        errs.raise_for(errs.F_SRC if what == "src" else errs.F_DST, [nbytes, size])
    if nbytes // size > MAXN:
        errs.raise_for(errs.F_LIMIT, [nbytes // size, MAXN])
    return k


def float_encode(src, kind, level) -> bytes:
    """float_encode(src, kind, level) -> bytes; kind 0=BF16 1=F16 2=F32"""
    kind, level = int(kind), int(level)
    s = _src(src)
    W, EB, bmin, bmax = _kind(kind, len(s), "src")
    nq, nk, sign, maxp, l2cap = floatc.SEARCH[min(max(level, 0), 9)]
    out = np.empty(floatc.bound(len(s)), np.uint8)
    n = floatc.encode(s, len(s), kind, W, EB, bmin, bmax, nq, nk, sign, maxp, l2cap, out)
    return out[:n].tobytes()


def float_decode(payload, kind, dst) -> None:
    """float_decode(payload, kind, dst): decode the values into dst"""
    kind = int(kind)
    p, d = _src(payload), _dst(dst)
    W, EB, bmin, bmax = _kind(kind, len(d), "dst")
    info = _info()
    _check(floatc.decode(p, len(p), kind, W, EB, bmin, bmax, d, len(d), info), info)


# ---------------------------------------------------------------- delta


def delta_encode(src, base, kind) -> bytes:
    """delta_encode(src, base, kind) -> bytes: src coded against base (as many bytes)"""
    kind = int(kind)
    s, b = _src(src), _src(base)
    W, EB, B, _ = delta.check(len(s), len(b), kind)
    out = np.empty(delta.bound(len(s)), np.uint8)
    n = delta.encode(s, b, len(s) // (W // 8), kind, W, EB, B, out)
    return out[:n].tobytes()


def delta_decode(payload, base, kind, dst) -> None:
    """delta_decode(payload, base, kind, dst): decode into dst against base"""
    kind = int(kind)
    p, b, d = _src(payload), _src(base), _dst(dst)
    W, EB, B, ntok = delta.check(len(d), len(b), kind)
    info = _info()
    _check(delta.decode(p, len(p), b, kind, W, EB, B, ntok, d, len(d) // (W // 8), info), info)


# one path, the scalar one: the tests that compare SIMD levels skip on this backend
# (tests/conftest.py, simd), and the few that ask the level see 0
def _simd() -> int:
    return 0


def _set_simd(level) -> int:
    return 0
