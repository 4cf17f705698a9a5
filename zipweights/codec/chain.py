"""A chunk's codec: which transform + coders turn its original bytes into a payload.

The codec id of every chunk is stored in the chunk table; ids are listed once here
and once in spec/FORMAT.md ("Chunk codecs"). Unknown ids make a reader fail with
UnsupportedFeatureError rather than guess. The encoder tries the candidates its level
allows and keeps the smallest payload; STORE is always a candidate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .. import _kernels
from ..dtypes import DType
from ..errors import CorruptDataError, UnsupportedFeatureError
from . import entropy, registry, sparse, split

STORE = 0  # the original bytes, verbatim
PLANES = 1  # byte planes, each with its own stream coder
FLOAT = 2  # the kernels' fused float coder (spec/CODERS.md)
SPARSE = 3  # bitmap of non-zero values + the non-zero values, coded densely

# Float kinds the fused coder takes, by dtype name.
_FLOAT_KIND = {"BF16": 0, "F16": 1, "F32": 2, "C64": 2}

_STREAM_HEAD = struct.Struct("<BI")  # coder id, payload length
_SPARSE_HEAD = struct.Struct("<I")  # count of non-zero values
MIN_CODED = 64  # below this many bytes a chunk is stored: headers would eat any gain
SPARSE_MIN_ZEROS = 0.125  # try the sparse codec from this fraction of zero values
SPARSE_ONLY_ZEROS = 0.25  # float chunks: from here on, only the sparse codec (unless dense_sparse)


@dataclass(frozen=True)
class Level:
    """What an encoder tries at one compression level: the float coder's search
    (`float_search`, a row of csrc/floatc.c's SEARCH table), byte planes with zstd
    beside it (`planes`), at which zstd level (also for bitmaps and integer tensors),
    and whether mostly-zero float chunks are coded densely as well as sparsely."""

    level: int
    zstd_level: int
    float_search: int = 1
    planes: bool = False
    dense_sparse: bool = False

    @classmethod
    def of(cls, level: int) -> "Level":
        return _LEVELS[level]


MIN_LEVEL, MAX_LEVEL, DEFAULT_LEVEL = 1, 9, 3
# Each level tries what the one below it tries and more (bench/levels_bench.py measures
# them; README, Levels). Float search (csrc/floatc.c SEARCH) 0: one table; 4: a run of 2
# exponents and the sign split, 12-bit precision; 1: the exponent's quantiles and runs of
# 2 and 6 exponents, the sign split, 13 bits; 5: also a run of 14 and 14 bits, with the
# decode tables kept in L2 (search 6 lets them grow: ~0.03 % smaller on CRAFT, ~15 %
# slower to decode there). No level sets dense_sparse: measured, it bought 0.00 % on the
# pruned corpus files at 2-3x the time (a Level built with it is the exhaustive reference).
# The zstd levels of 5-9 are ones where its output shrank on the corpus' planes (zstd is
# not monotone: its 6-8 came out larger than its 5 there).
_LEVELS = {lv.level: lv for lv in (
    Level(1, zstd_level=1, float_search=0),
    Level(2, zstd_level=2, float_search=4),
    Level(3, zstd_level=3, float_search=1),
    Level(4, zstd_level=3, float_search=5),
    Level(5, zstd_level=3, float_search=5, planes=True),
    Level(6, zstd_level=5, float_search=5, planes=True),
    Level(7, zstd_level=10, float_search=5, planes=True),
    Level(8, zstd_level=12, float_search=5, planes=True),
    Level(9, zstd_level=14, float_search=5, planes=True),
)}
# Byte planes replace a float payload only when they save this much (bytes, and a
# fraction of the payload): a planes chunk costs a few coder calls more to decode, which
# small savings (biases of a few hundred values, a hair off a big chunk) do not repay.
PLANES_MIN_SAVING, PLANES_MIN_GAIN = 1024, 0.01


def float_kind(dtype: DType) -> int | None:
    return _FLOAT_KIND.get(dtype.name)


def encode_chunk(data, dtype: DType, level: Level) -> tuple[int, bytes]:
    """Code one chunk; return (codec id, payload)."""
    if len(data) < MIN_CODED:
        return STORE, bytes(data)
    zeros = sparse.zero_fraction(data, dtype.unit)
    if zeros >= SPARSE_ONLY_ZEROS and float_kind(dtype) is not None and not level.dense_sparse:
        # Dense float coding stores every zero's raw low mantissa bits (4 or more per
        # value), so at a quarter zeros it spends over a bit per value on them, more than
        # the whole bitmap costs (at most one bit per value): the sparse layout wins, and
        # coding the chunk densely as well would only double the encoder's time.
        payload = _encode_sparse(data, dtype, level)
        return (SPARSE, payload) if len(payload) < len(data) else (STORE, bytes(data))
    best = _encode_dense(data, dtype, level)
    if zeros >= SPARSE_MIN_ZEROS:
        payload = _encode_sparse(data, dtype, level)
        if len(payload) < len(best[1]):
            best = (SPARSE, payload)
    return best


def _encode_dense(data, dtype: DType, level: Level) -> tuple[int, bytes]:
    n = len(data)
    best = (STORE, None)
    best_len = n
    payload = _encode_float(data, dtype, level)
    if payload is not None and len(payload) < best_len:
        best, best_len = (FLOAT, payload), len(payload)
    if best[0] == STORE or level.planes:
        payload = _encode_planes(data, dtype, level)
        margin = max(PLANES_MIN_SAVING, int(best_len * PLANES_MIN_GAIN)) if best[0] == FLOAT else 1
        if best_len - len(payload) >= margin:
            best, best_len = (PLANES, payload), len(payload)
    if best[0] == STORE:
        return STORE, bytes(data)
    return best


def _encode_store(data, dtype: DType, level: Level) -> bytes:
    return bytes(data)


def _encode_float(data, dtype: DType, level: Level) -> bytes | None:
    """The fused float payload; None for a dtype (or a length) the coder does not take."""
    kind = float_kind(dtype)
    if kind is None or len(data) % (4 if kind == 2 else 2):
        return None
    return _kernels.float_encode(data, kind, level.float_search)


def _encode_planes(data, dtype: DType, level: Level) -> bytes:
    planes = memoryview(split.split(data, dtype))
    m = len(data) // dtype.unit
    parts = []
    for p in range(dtype.unit):
        coder, payload = entropy.encode(planes[p * m : (p + 1) * m], level.zstd_level)
        parts.append(_STREAM_HEAD.pack(coder, len(payload)))
        parts.append(payload)
    return b"".join(parts)


def _encode_sparse(data, dtype: DType, level: Level) -> bytes:
    bitmap, values, nnz = sparse.split(data, dtype.unit)
    coder, coded_bitmap = entropy.encode(bitmap, level.zstd_level)
    if nnz * dtype.unit >= MIN_CODED:
        inner, coded_values = _encode_dense(values, dtype, level)
    else:
        inner, coded_values = STORE, values
    return b"".join(
        (_SPARSE_HEAD.pack(nnz), _STREAM_HEAD.pack(coder, len(coded_bitmap)), coded_bitmap,
         bytes((inner,)), coded_values)
    )


def decode_chunk(codec: int, payload, dtype: DType, out: memoryview) -> None:
    """Decode `payload` into `out` (exactly the chunk's original size)."""
    n = len(out)
    if n % dtype.unit:
        raise CorruptDataError(f"chunk of {n} bytes is not a whole number of {dtype.unit}-byte units")
    row = CODECS.get(codec)
    if row is None:
        raise UnsupportedFeatureError(f"unknown chunk codec {codec}")
    row.decode(payload, dtype, out)


def _decode_store(payload, dtype: DType, out: memoryview) -> None:
    if len(payload) != len(out):
        raise CorruptDataError(f"stored chunk holds {len(payload)} bytes, expected {len(out)}")
    out[:] = payload


def _decode_float(payload, dtype: DType, out: memoryview) -> None:
    kind = _FLOAT_KIND.get(dtype.name)
    if kind is None:
        raise CorruptDataError(f"float codec used for dtype {dtype.name}")
    try:
        _kernels.float_decode(payload, kind, out)
    except CorruptDataError as exc:  # the kernel's class says truncated or corrupt
        raise type(exc)(f"float payload: {exc}") from None


def _take_stream(payload: memoryview, pos: int, what: str) -> tuple[int, memoryview, int]:
    if len(payload) - pos < _STREAM_HEAD.size:
        raise CorruptDataError(f"{what} header runs past the end of the chunk payload")
    coder, length = _STREAM_HEAD.unpack_from(payload, pos)
    pos += _STREAM_HEAD.size
    if length > len(payload) - pos:
        raise CorruptDataError(f"{what} declares {length} bytes, only {len(payload) - pos} left in the payload")
    return coder, payload[pos : pos + length], pos + length


def _decode_planes(payload, dtype: DType, out: memoryview) -> None:
    payload = memoryview(payload)
    n = len(out)
    m = n // dtype.unit
    planes = bytearray(n)
    view = memoryview(planes)
    pos = 0
    for p in range(dtype.unit):
        coder, data, pos = _take_stream(payload, pos, f"plane {p}")
        try:
            entropy.decode(coder, data, view[p * m : (p + 1) * m])
        except CorruptDataError as exc:  # keeps the class: truncated stays truncated
            raise type(exc)(f"plane {p}: {exc}") from None
    if pos != len(payload):
        raise CorruptDataError(f"{len(payload) - pos} trailing bytes after the last plane")
    split.merge(planes, dtype, out)


def _decode_sparse(payload, dtype: DType, out: memoryview) -> None:
    payload = memoryview(payload)
    m = len(out) // dtype.unit
    if len(payload) < _SPARSE_HEAD.size:
        raise CorruptDataError("sparse header truncated")
    (nnz,) = _SPARSE_HEAD.unpack_from(payload)
    if nnz > m:
        raise CorruptDataError(f"sparse chunk declares {nnz} non-zero values in a chunk of {m}")
    coder, data, pos = _take_stream(payload, _SPARSE_HEAD.size, "bitmap")
    bitmap = bytearray((m + 7) // 8)
    entropy.decode(coder, data, memoryview(bitmap))
    if pos >= len(payload):
        raise CorruptDataError("sparse chunk ends before its values")
    inner = payload[pos]
    if inner == SPARSE:
        raise CorruptDataError("sparse values cannot themselves be sparse")
    values = bytearray(nnz * dtype.unit)
    decode_chunk(inner, payload[pos + 1 :], dtype, memoryview(values))
    sparse.merge(bitmap, values, dtype.unit, out)


# The chunk codecs, one row each, as spec/FORMAT.md section 7 lists them: encode(data,
# dtype, level) -> payload or None, decode(payload, dtype, out).
CODECS = registry.table(
    registry.Row(STORE, "store", _encode_store, _decode_store),
    registry.Row(PLANES, "planes", _encode_planes, _decode_planes),
    registry.Row(FLOAT, "float", _encode_float, _decode_float),
    registry.Row(SPARSE, "sparse", _encode_sparse, _decode_sparse),
)
NAMES = registry.names(CODECS)
