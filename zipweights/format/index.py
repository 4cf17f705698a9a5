"""The index: what the original file was, and where each of its entries' chunks are.

The index lists entries that tile the original file after its verbatim prefix (the
safetensors header): a tensor (name, dtype, shape) or an unnamed blob of bytes. Each
entry is cut into chunks of `chunk_size` original bytes (the last one shorter), and
each chunk has a row in the entry's chunk table: where its payload is in the .zipw
file, its codec, and the xxh3-64 of its decoded bytes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

from .. import dtypes
from ..errors import CorruptDataError, LimitExceededError, TruncatedDataError, UnsupportedFeatureError
from . import limits
from .limits import MAX_CHUNK_SIZE, MAX_INDEX_SIZE, MAX_NDIM, MAX_PREFIX_SIZE  # noqa: F401 (re-exported)

SOURCE_RAW = 0
SOURCE_SAFETENSORS = 1

KIND_TENSOR = 0
KIND_BLOB = 1

TRANSFORM_NONE = 0
TRANSFORM_BASE = 1  # coded against the base model's tensor of the same name (version 2)

# chunk codecs of version 2 (codec/delta.py): those that read the base, and COPY
BASE_CODECS = (4, 5, 6)
V1_MAX_CODEC, V2_MAX_CODEC = 3, 7

CHUNK_ROW = np.dtype(
    [("offset", "<u8"), ("length", "<u4"), ("codec", "u1"), ("reserved", "V3"), ("checksum", "<u8")]
)
assert CHUNK_ROW.itemsize == 24

_INDEX_HEAD = struct.Struct("<Q32sBB6sQ")  # original size, sha256, source kind, has base, reserved, prefix len
_BASE_HEAD = struct.Struct("<32sQQI")  # base sha256, base size, base prefix xxh3, location length
LOCATION_KEYS = ("path", "repo_id", "revision", "filename", "repo_type")
_ENTRY_HEAD = struct.Struct("<BBBBI")  # kind, dtype id, ndim, transform, name length
_ENTRY_SPAN = struct.Struct("<QQII")  # offset, length, chunk size, chunk count


@dataclass
class Entry:
    kind: int
    name: str
    dtype: dtypes.DType
    shape: tuple[int, ...]
    offset: int  # absolute offset of the entry's bytes in the original file
    length: int
    chunk_size: int
    chunks: np.ndarray = field(repr=False)  # CHUNK_ROW records
    transform: int = TRANSFORM_NONE

    def chunk_span(self, i: int) -> tuple[int, int]:
        """(start, stop) of chunk i in the entry's original bytes."""
        start = i * self.chunk_size
        return start, min(start + self.chunk_size, self.length)


@dataclass
class BaseRecord:
    """The base model a delta file was coded against: pinned by the sha256 and size of
    its original file (and the xxh3 of its prefix, a check that costs nothing), with
    where to look for it: a path relative to the delta file's folder and/or a hub
    repo id, revision and filename."""

    sha256: bytes
    size: int
    prefix_xxh3: int
    location: dict = field(default_factory=dict)

    def describe(self) -> str:
        loc = self.location
        parts = []
        if loc.get("path"):
            parts.append(loc["path"])
        if loc.get("repo_id"):
            rev = f"@{loc['revision']}" if loc.get("revision") else ""
            parts.append(f"hub {loc['repo_id']}{rev}:{loc.get('filename', '')}")
        return " or ".join(parts) or "no recorded location"


def encode_location(location: dict) -> bytes:
    loc = {k: location[k] for k in LOCATION_KEYS if location.get(k) is not None}
    if not all(isinstance(v, str) for v in loc.values()):
        raise ValueError("base location values must be strings")
    return json.dumps(loc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_location(data: bytes, where: str) -> dict:
    """The location JSON: one object of strings (keys this version does not know are
    kept out, so a later version may add some)."""

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CorruptDataError(f"{where}: the base location is not a JSON object of strings") from None
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise CorruptDataError(f"{where}: the base location is not a JSON object of strings")
    return {k: obj[k] for k in LOCATION_KEYS if k in obj}


@dataclass
class Index:
    original_size: int
    original_sha256: bytes
    source_kind: int
    prefix: bytes
    entries: list[Entry]
    base: BaseRecord | None = None

    @property
    def version(self) -> int:
        """The format version this index needs: 2 for a base or version-2 codecs."""
        if self.base is not None or any(
            e.transform != TRANSFORM_NONE or (len(e.chunks) and int(e.chunks["codec"].max()) > V1_MAX_CODEC)
            for e in self.entries
        ):
            return 2
        return 1


def chunk_count(length: int, chunk_size: int) -> int:
    return -(-length // chunk_size)


def encode(index: Index) -> bytes:
    """The index bytes; refuses (LimitExceededError) an index a reader would refuse."""
    limits.check_index_limits(index)
    parts = [
        _INDEX_HEAD.pack(
            index.original_size, index.original_sha256, index.source_kind, index.base is not None, bytes(6),
            len(index.prefix),
        ),
        index.prefix,
    ]
    if index.base is not None:
        loc = encode_location(index.base.location)
        if len(loc) > limits.MAX_LOCATION_SIZE:
            raise LimitExceededError(f"base location of {len(loc)} bytes exceeds {limits.MAX_LOCATION_SIZE}")
        parts += [_BASE_HEAD.pack(index.base.sha256, index.base.size, index.base.prefix_xxh3, len(loc)), loc]
    parts.append(struct.pack("<I", len(index.entries)))
    for e in index.entries:
        name = e.name.encode("utf-8")
        parts.append(_ENTRY_HEAD.pack(e.kind, e.dtype.id, len(e.shape), e.transform, len(name)))
        parts.append(name)
        parts.append(struct.pack(f"<{len(e.shape)}Q", *e.shape))
        parts.append(_ENTRY_SPAN.pack(e.offset, e.length, e.chunk_size, len(e.chunks)))
        parts.append(np.ascontiguousarray(e.chunks, dtype=CHUNK_ROW).tobytes())
    blob = b"".join(parts)
    if len(blob) > MAX_INDEX_SIZE:
        raise LimitExceededError(f"index of {len(blob)} bytes exceeds {MAX_INDEX_SIZE} (use a larger chunk size)")
    return blob


class _Cursor:
    def __init__(self, data: bytes, where: str):
        self.data, self.pos, self.where = data, 0, where

    def take(self, n: int, what: str) -> memoryview:
        if n > len(self.data) - self.pos:
            raise TruncatedDataError(
                f"{self.where}: index truncated reading {what} at index byte {self.pos} "
                f"(need {n} bytes, {len(self.data) - self.pos} left)"
            )
        view = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, st: struct.Struct, what: str):
        return st.unpack(self.take(st.size, what))


def decode(data: bytes, payload_end: int, where: str, version: int = 1) -> Index:
    """Parse and check an index of a file of format `version`; `payload_end` is where
    chunk payloads must end (the index offset). Everything is validated before the
    caller allocates anything."""
    from .container import HEADER_SIZE

    cur = _Cursor(data, where)
    size, sha, source_kind, has_base, reserved, prefix_len = cur.unpack(_INDEX_HEAD, "the index head")
    if reserved != bytes(6) or (version < 2 and has_base):
        raise CorruptDataError(f"{where}: reserved bytes in the index head are not zero")
    if has_base > 1:
        raise CorruptDataError(f"{where}: the index head's base flag is {has_base}, must be 0 or 1")
    if source_kind not in (SOURCE_RAW, SOURCE_SAFETENSORS):
        raise UnsupportedFeatureError(f"{where}: unknown source kind {source_kind}")
    if prefix_len > MAX_PREFIX_SIZE:
        raise LimitExceededError(f"{where}: prefix of {prefix_len} bytes exceeds {MAX_PREFIX_SIZE}")
    if prefix_len > size:
        raise CorruptDataError(f"{where}: prefix of {prefix_len} bytes exceeds the original size {size}")
    prefix = bytes(cur.take(prefix_len, "the original header"))
    base = None
    if has_base:
        bsha, bsize, bxxh, loc_len = cur.unpack(_BASE_HEAD, "the base record")
        if loc_len > limits.MAX_LOCATION_SIZE:
            raise LimitExceededError(f"{where}: base location of {loc_len} bytes exceeds {limits.MAX_LOCATION_SIZE}")
        base = BaseRecord(bytes(bsha), bsize, bxxh, decode_location(bytes(cur.take(loc_len, "the base location")), where))
    (n_entries,) = cur.unpack(struct.Struct("<I"), "the entry count")
    limits.check_entry_count(n_entries, f"{where}: the index")

    entries = []
    tables = []  # (entry number, chunk table bytes), checked together after the loop
    names = set()  # of the tensors
    expected_offset = prefix_len
    for k in range(n_entries):
        kind, dtype_id, ndim, transform, name_len = cur.unpack(_ENTRY_HEAD, f"entry {k}")
        try:
            name = bytes(cur.take(name_len, f"entry {k} name")).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptDataError(f"{where}: entry {k} name is not UTF-8") from None

        def label(k=k, name=name):
            return f"{where}: entry {k} ({name!r})"

        if kind not in (KIND_TENSOR, KIND_BLOB):
            raise UnsupportedFeatureError(f"{label()}: unknown entry kind {kind}")
        if kind == KIND_TENSOR:
            if name in names:
                raise CorruptDataError(f"{label()}: a tensor of that name is listed twice")
            names.add(name)
        if dtype_id not in dtypes.BY_ID:
            raise UnsupportedFeatureError(f"{label()}: unknown dtype id {dtype_id}")
        if transform > TRANSFORM_BASE:
            raise UnsupportedFeatureError(f"{label()}: transform {transform} is not supported by this reader")
        if transform == TRANSFORM_BASE and base is None:
            raise CorruptDataError(f"{label()}: coded against a base model, but the file records none")
        if ndim > MAX_NDIM:
            raise LimitExceededError(f"{label()}: {ndim} dimensions exceed {MAX_NDIM}")
        shape = struct.unpack(f"<{ndim}Q", cur.take(8 * ndim, f"entry {k} shape"))
        offset, length, chunk_size, n_chunks = cur.unpack(_ENTRY_SPAN, f"entry {k} span")
        dt = dtypes.BY_ID[dtype_id]

        if offset != expected_offset:
            raise CorruptDataError(f"{label()}: starts at original offset {offset}, expected {expected_offset}")
        if length > size - offset:
            raise CorruptDataError(f"{label()}: {length} bytes at {offset} run past the original size {size}")
        expected_offset = offset + length
        if length % dt.unit:
            raise CorruptDataError(
                f"{label()}: {length} bytes is not a whole number of {dt.unit}-byte {dt.name} units"
            )
        if kind == KIND_TENSOR and dt is not dtypes.OPAQUE:
            numel = 1
            for d in shape:
                numel *= d
            if dt.nbytes(numel) != length:
                raise CorruptDataError(f"{label()}: {dt.name} {list(shape)} does not fill {length} bytes")
        if chunk_size == 0 or chunk_size % dt.unit:
            raise CorruptDataError(f"{label()}: chunk size {chunk_size} is not a multiple of {dt.unit}")
        if chunk_size > MAX_CHUNK_SIZE:
            raise LimitExceededError(f"{label()}: chunk size {chunk_size} exceeds {MAX_CHUNK_SIZE}")
        if n_chunks != chunk_count(length, chunk_size):
            raise CorruptDataError(
                f"{label()}: {n_chunks} chunks listed, {chunk_count(length, chunk_size)} expected"
            )
        tables.append(cur.take(CHUNK_ROW.itemsize * n_chunks, f"entry {k} chunk table"))
        entries.append(Entry(kind, name, dt, tuple(shape), offset, length, chunk_size, None, transform))

    # All chunk tables are checked in one vectorised pass: per-entry numpy calls would
    # cost more than the rest of the parse for files with hundreds of small tensors.
    blob = b"".join(tables)
    n_total = len(blob) // CHUNK_ROW.itemsize
    rows = np.frombuffer(blob, CHUNK_ROW).copy()  # writable, and owns its memory
    counts = np.cumsum([len(t) // CHUNK_ROW.itemsize for t in tables], dtype=np.int64)

    def chunk_label(i: int) -> str:
        k = int(np.searchsorted(counts, i, side="right"))
        first = int(counts[k - 1]) if k else 0
        return f"{where}: entry {k} ({entries[k].name!r}) chunk {i - first}"

    if n_total:
        offsets, lengths = rows["offset"], rows["length"].astype(np.uint64)
        ends = offsets + lengths
        bad = (offsets < HEADER_SIZE) | (ends > payload_end) | (ends < offsets)
        reserved_bad = np.frombuffer(blob, np.uint8).reshape(n_total, CHUNK_ROW.itemsize)[:, 13:16].any(axis=1)
        if bad.any() or reserved_bad.any():
            i = int(np.argmax(bad | reserved_bad))
            if reserved_bad[i]:
                raise CorruptDataError(f"{chunk_label(i)}: reserved bytes in the chunk table are not zero")
            raise CorruptDataError(
                f"{chunk_label(i)}: payload ({int(rows['length'][i])} bytes at offset {int(rows['offset'][i])}) "
                f"lies outside the payload area [{HEADER_SIZE}, {payload_end})"
            )
        # Payloads follow each other in entry and chunk order from the file header on,
        # without gaps or overlaps (spec 5.2): every payload byte belongs to one chunk,
        # so a small file cannot make many chunks decode one payload (a bomb).
        starts = np.empty(n_total, np.uint64)
        starts[0] = HEADER_SIZE
        np.cumsum(lengths[:-1], out=starts[1:])
        starts[1:] += np.uint64(HEADER_SIZE)
        misplaced = offsets != starts
        if misplaced.any():
            i = int(np.argmax(misplaced))
            raise CorruptDataError(
                f"{chunk_label(i)}: payload at offset {int(offsets[i])}, expected {int(starts[i])} "
                "(payloads must follow each other in entry and chunk order, without gaps or overlaps)"
            )
        payloads_end = int(ends[-1])
        codecs = rows["codec"]
        v2_only = (codecs > V1_MAX_CODEC) & (codecs <= V2_MAX_CODEC)
        if version < 2 and v2_only.any():
            i = int(np.argmax(v2_only))
            raise CorruptDataError(f"{chunk_label(i)}: codec {int(codecs[i])} does not exist in format version 1")
        # the codecs that read the base only in entries coded against it
        against = np.repeat([e.transform == TRANSFORM_BASE for e in entries],
                            [len(t) // CHUNK_ROW.itemsize for t in tables])
        misused = np.isin(codecs, BASE_CODECS) & ~against
        if misused.any():
            i = int(np.argmax(misused))
            raise CorruptDataError(f"{chunk_label(i)}: codec {int(codecs[i])} reads a base, but its entry is not coded against one")
    else:
        payloads_end = HEADER_SIZE
    if payloads_end != payload_end:
        raise CorruptDataError(
            f"{where}: chunk payloads end at offset {payloads_end}, but the index starts at {payload_end} "
            "(payloads must fill the space between the file header and the index)"
        )
    pos = 0
    for e, t in zip(entries, tables):
        n = len(t) // CHUNK_ROW.itemsize
        e.chunks = rows[pos : pos + n]
        pos += n

    if expected_offset != size:
        raise CorruptDataError(f"{where}: entries end at original offset {expected_offset}, expected {size}")
    if cur.pos != len(data):
        raise CorruptDataError(f"{where}: {len(data) - cur.pos} trailing bytes after the index")
    return Index(size, bytes(sha), source_kind, prefix, entries, base)
