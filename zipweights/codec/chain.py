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
    """What an encoder tries at one compression level, and keeps the smallest of.

    `float_rows`: the float coder's searches (rows of csrc/floatc.c's SEARCH table), each
    run and the smallest payload kept (its search picks a layout by an estimated cost, so
    a wider row is not always smaller than a narrower one). `stream_zstd`: the zstd levels
    tried on every stream other than float payloads (sparse bitmaps, planes of integer and
    incompressible chunks), per stream the smallest kept. `probe`: byte planes of a float
    chunk are coded (with zstd at `planes_zstd`, per plane the smallest) only where a
    sample says they may beat the float payload (see planes_estimate): where the estimate
    is at most `probe`; None: never. `planes`: byte planes on every float chunk, without
    the probe (the exhaustive reference; no level sets it). `dense_sparse`: mostly-zero
    float chunks coded densely as well as sparsely (no level sets it either)."""

    level: int
    float_rows: tuple[int, ...] = (1,)
    stream_zstd: tuple[int, ...] = (3,)
    probe: float | None = None
    planes_zstd: tuple[int, ...] = ()
    planes: bool = False
    dense_sparse: bool = False

    @property
    def float_search(self) -> int:
        """The first (and cheapest) float search row: the level's reference payload."""
        return self.float_rows[0]

    @property
    def zstd_level(self) -> int:
        return self.stream_zstd[0]

    @classmethod
    def of(cls, level: int) -> "Level":
        return _LEVELS[level]


MIN_LEVEL, MAX_LEVEL, DEFAULT_LEVEL = 1, 9, 3
# Float search rows (csrc/floatc.c SEARCH) 0: one table; 4: a run of 2 exponents and the
# sign split, 12-bit precision; 1: the exponent's quantiles and runs of 2 and 6 exponents,
# the sign split, 13 bits; 5: also a run of 14 and 14 bits, with the decode tables kept in
# L2 (search 6 lets them grow: ~0.03 % smaller on CRAFT, ~15 % slower to decode there, so
# no level uses it: no level decodes slower than the default).
# From the default up, each level tries everything the one below it tries and more, and
# keeps the smallest payload, so that no level comes out larger than the one below it on
# any chunk: the same first float row (1), the same planes margin against it, zstd level
# sets that only grow (zstd is not monotone: its 6-8 came out larger than its 5 on the
# corpus' planes, hence sets rather than one level), probe thresholds that only rise.
# Byte planes win on few float chunks (on the corpus: MiniLM fp32's position embeddings
# and 4 of the 45 chunks of its word embeddings, 4-7 % smaller than the float payload),
# so they are coded only where the probe says so (bench/results/levels-probe.md).
# Planes of probed chunks, from the default up: zstd 3 and 5, per plane the smaller. On
# MiniLM fp32's 6 chunks where planes win, zstd 5 alone saved 106.7 KB, with 3 109.0 KB
# (5 with 9: 109.6 KB at 3.7x the time; 7, 6 and 4 alone less than 5)
_Z = (3, 5)
_LEVELS = {lv.level: lv for lv in (
    Level(1, float_rows=(0,), stream_zstd=(1,)),
    Level(2, float_rows=(4,), stream_zstd=(2,)),
    Level(3, float_rows=(1,), stream_zstd=(3,), probe=0.995, planes_zstd=_Z),
    Level(4, float_rows=(1, 5), stream_zstd=(3,), probe=0.995, planes_zstd=_Z),
    Level(5, float_rows=(1, 5), stream_zstd=(3,), probe=0.995, planes_zstd=_Z + (12,)),
    Level(6, float_rows=(1, 5), stream_zstd=(3, 9), probe=0.995, planes_zstd=_Z + (12,)),
    Level(7, float_rows=(1, 5), stream_zstd=(3, 9), probe=1.0, planes_zstd=_Z + (12, 16)),
    Level(8, float_rows=(1, 5), stream_zstd=(3, 9, 16), probe=1.0, planes_zstd=_Z + (12, 16)),
    Level(9, float_rows=(1, 5), stream_zstd=(3, 9, 16), probe=1.0, planes_zstd=_Z + (12, 16, 19)),
)}
# Byte planes replace a float payload only when they save this much against the level's
# first float row (bytes, and a fraction of that payload): a planes chunk costs a few coder
# calls more to decode, which small savings (biases of a few hundred values, a hair off a
# big chunk) do not repay. Measured against the first row, which every level from the
# default up shares, so that a planes payload one level takes the levels above take too.
PLANES_MIN_SAVING, PLANES_MIN_GAIN = 1024, 0.01
# The probe (planes_estimate): PROBE_STRIPES evenly spaced stripes of 1/PROBE_SPAN of
# the chunk each (1/16 of it in all), coded as byte planes with zstd 1 (the exponent plane
# order-0), scaled to the chunk; chunks under PROBE_MIN bytes are not probed (a 1 KiB
# saving is then out of reach of all but a few). On the corpus and the held-out EasyOCR
# weights the estimate was at most 0.992 on every chunk where planes win and at least
# 0.999 on every chunk of 200 KB or more where they lose (bench/results/levels-probe.md). Stripes rather than
# the chunk's head: on MiniLM fp32's word embeddings the rows where planes win are not at
# the start of their chunks (its first 1/16 said 1.008 on a chunk where planes save 7 %).
# PROBE_LOW_MIN: the low planes of the sample compressed by zstd 1 to at least this
# fraction of their size: planes cannot win (on the corpus such planes came out at 1.000
# or more on every chunk where planes lose, at most 0.96 where they win).
PROBE_STRIPES, PROBE_SPAN, PROBE_MIN, PROBE_LOW_MIN = 8, 128, 64 << 10, 0.99


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
    first = _encode_float(data, dtype, level)
    if first is None or len(first) >= n:
        # Not a float chunk (or not one the float coder compresses): stored, or byte
        # planes, or a wider float search where one finds something after all.
        best, best_len = (STORE, None), n
        if first is not None:
            for row in level.float_rows[1:]:
                payload = _kernels.float_encode(data, float_kind(dtype), row)
                if len(payload) < best_len:
                    best, best_len = (FLOAT, payload), len(payload)
        payload = _encode_planes(data, dtype, level)
        if len(payload) < best_len:
            best, best_len = (PLANES, payload), len(payload)
        return (STORE, bytes(data)) if best[0] == STORE else best
    ref = len(first)
    best, best_len = (FLOAT, first), ref
    for row in level.float_rows[1:]:
        payload = _kernels.float_encode(data, float_kind(dtype), row)
        if len(payload) < best_len:
            best, best_len = (FLOAT, payload), len(payload)
    if level.planes or (level.probe is not None and n >= PROBE_MIN
                        and planes_estimate(data, dtype, ref) <= level.probe):
        payload = _encode_planes(data, dtype, level, level.planes_zstd or level.stream_zstd)
        if ref - len(payload) >= max(PLANES_MIN_SAVING, int(ref * PLANES_MIN_GAIN)) \
                and len(payload) < best_len:
            best = (PLANES, payload)
    return best


def planes_estimate(data, dtype: DType, float_size: int) -> float:
    """Byte planes' size, estimated from a sample of a float chunk (see PROBE_STRIPES),
    over `float_size`, the chunk's float payload (of search row 1 from the default up):
    under 1 where planes may win, infinite where they cannot. The same coders at every
    level, so that a higher level's larger threshold fires wherever a lower one's does.

    First the low planes (fp32's two low bytes, the low byte of 16-bit floats), which
    hold the bits the float coder stores raw, by zstd 1: where they do not compress,
    planes cannot win (their exponent plane, coded order-0, is no smaller than the float
    coder's exponents coded in context) and the probe stops there, at zstd 1 on 1/32 of
    the chunk, ~1/30 of a float encode. Else the rest: the exponent
    plane order-0, the planes between by zstd 1. (A float encode of the sample instead of
    scaling by `float_size` would cost ~1/5 of the chunk's: the coder's table search does
    not shrink with its input.)"""
    n, unit = len(data), dtype.unit
    view = memoryview(data).cast("B")
    stripe = (n // PROBE_SPAN) // unit * unit
    sample = b"".join(view[(n * j // PROBE_STRIPES) // unit * unit:][:stripe] for j in range(PROBE_STRIPES))
    planes = memoryview(split.split(sample, dtype))
    m = len(sample) // unit
    zstd = entropy.CODERS[entropy.ZSTD].encode
    low = 2 if unit == 4 else 1
    total = 0
    for p in range(unit - low, unit):
        total += min(m, len(zstd(planes[p * m : (p + 1) * m], 1)))
    if total >= PROBE_LOW_MIN * low * m:
        return float("inf")
    for p in range(unit - low):
        plane = planes[p * m : (p + 1) * m]
        # the exponent plane by order-0 coding alone, which suits it best (zstd 1 on it
        # as well cost more than the rest of the probe and moved no decision on the corpus)
        total += len(_kernels.ent_encode(plane)) if p == 0 else min(m, len(zstd(plane, 1)))
    return (total + _STREAM_HEAD.size * unit) * n / len(sample) / float_size


def _encode_store(data, dtype: DType, level: Level) -> bytes:
    return bytes(data)


def _encode_float(data, dtype: DType, level: Level) -> bytes | None:
    """The fused float payload of the level's first search row; None for a dtype (or a
    length) the coder does not take."""
    kind = float_kind(dtype)
    if kind is None or len(data) % (4 if kind == 2 else 2):
        return None
    return _kernels.float_encode(data, kind, level.float_search)


def _encode_stream(data, zstd_levels) -> tuple[int, bytes]:
    """The smallest of entropy.encode at each zstd level (the first of equals): RAW and
    the order-0 coder once, then zstd at each level."""
    best = entropy.encode(data, zstd_levels[0])
    if len(data) < 32:  # entropy.encode keeps streams this short raw
        return best
    for z in zstd_levels[1:]:
        payload = entropy.CODERS[entropy.ZSTD].encode(data, z)
        if payload is not None and len(payload) < len(best[1]):
            best = (entropy.ZSTD, payload)
    return best


def _encode_planes(data, dtype: DType, level: Level, zstd_levels=None) -> bytes:
    planes = memoryview(split.split(data, dtype))
    m = len(data) // dtype.unit
    parts = []
    for p in range(dtype.unit):
        coder, payload = _encode_stream(planes[p * m : (p + 1) * m], zstd_levels or level.stream_zstd)
        parts.append(_STREAM_HEAD.pack(coder, len(payload)))
        parts.append(payload)
    return b"".join(parts)


def _encode_sparse(data, dtype: DType, level: Level) -> bytes:
    bitmap, values, nnz = sparse.split(data, dtype.unit)
    coder, coded_bitmap = _encode_stream(bitmap, level.stream_zstd)
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
