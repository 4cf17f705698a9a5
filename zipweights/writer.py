"""Original bytes -> .zipw: the place where codec chains meet the container.

A *source* is the original file seen as a verbatim prefix (the safetensors header)
followed by entries (tensors, or blobs of bytes) that tile the rest. Sources come
from a safetensors file, from any file taken as bytes, or from tensors in memory;
all are written the same way: chunks coded in parallel and appended in order, then
the index and the trailer, into a temporary file renamed on success.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import stat
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import xxhash

from . import basemodel, dtypes
from ._mapped import Behind, release
from ._fileio import atomic_output, check_distinct, check_output, reserve
from ._parallel import Turns, default_threads, run_shared
from .codec import chain, delta
from .errors import InvalidArgumentError, InvalidSafetensorsError, LimitExceededError
from .format import container, index as fmt_index, limits, safetensors_header

DEFAULT_CHUNK_SIZE = 1 << 20


@dataclass
class SourceEntry:
    kind: int
    name: str
    dtype: dtypes.DType
    shape: tuple[int, ...]
    data: memoryview  # the entry's original bytes


@dataclass
class Source:
    source_kind: int
    prefix: bytes
    entries: list[SourceEntry]
    size: int = field(init=False)
    mapping: object = field(default=None, repr=False)  # the input's mmap, when mapped

    def __post_init__(self):
        self.size = len(self.prefix) + sum(len(e.data) for e in self.entries)

    def offsets(self) -> list[int]:
        """Each entry's offset in the original file (entries follow the prefix in order)."""
        out, pos = [], len(self.prefix)
        for e in self.entries:
            out.append(pos)
            pos += len(e.data)
        return out


@dataclass
class WriteStats:
    original_size: int
    compressed_size: int
    sha256: str

    @property
    def ratio(self) -> float:
        return self.compressed_size / self.original_size if self.original_size else 1.0


def source_from_safetensors(buf, where: str = "input") -> Source:
    """A source over a safetensors file's bytes (a memoryview; nothing is copied)."""
    buf = memoryview(buf)
    n = safetensors_header.read_header_size(bytes(buf[:8]), len(buf), where)
    header = safetensors_header.parse(bytes(buf[: 8 + n]), len(buf), where)
    start = header.data_start
    entries = [
        SourceEntry(
            fmt_index.KIND_TENSOR,
            t.name,
            dtypes.from_name(t.dtype_name),
            t.shape,
            buf[start + t.begin : start + t.end],
        )
        for t in header.tensors
    ]
    return Source(fmt_index.SOURCE_SAFETENSORS, bytes(buf[:start]), entries)


def source_from_bytes(buf, dtype_hint: str | None = None) -> Source:
    """A source over any file taken as bytes; with a dtype hint the whole-element part
    is split as that type and the leftover tail kept as a blob."""
    buf = memoryview(buf)
    entries = []
    if dtype_hint is not None:
        dt = dtypes.BY_NAME.get(dtype_hint.upper())
        if dt is None or dt.bits % 8:
            raise InvalidArgumentError(
                f"unknown or sub-byte dtype hint {dtype_hint!r}; one of {', '.join(sorted(dtypes.BY_NAME))}"
            )
        item = dt.bits // 8
        whole = len(buf) - len(buf) % item
        entries.append(SourceEntry(fmt_index.KIND_BLOB, "", dt, (whole // item,), buf[:whole]))
        buf = buf[whole:]
    if len(buf) or not entries:
        entries.append(SourceEntry(fmt_index.KIND_BLOB, "", dtypes.OPAQUE, (len(buf),), buf))
    return Source(fmt_index.SOURCE_RAW, b"", entries)


def _check_text(s: str, what: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"{what} {s!r} is not valid Unicode (a lone surrogate)") from None


def _check_metadata(metadata) -> dict | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise InvalidArgumentError("metadata must be a dict of str to str (as safetensors requires)")
    for k, v in metadata.items():
        _check_text(k, "metadata key")
        _check_text(v, "metadata value")
    return dict(metadata)


def _safetensors_order(items):
    """safetensors' order: dtype rank descending, then name (byte order of UTF-8,
    which is code point order)."""

    def rank(code: str) -> int:
        dt = dtypes.SAFETENSORS.get(code)
        return dt.rank if dt is not None else -1

    return sorted(items, key=lambda it: (-rank(it[1]), it[0]))


def source_from_tensors(items, metadata) -> Source:
    """A source over tensors in memory, [(name, dtype name, shape, memoryview)] in any
    order, laid out as safetensors' own writer lays out the same dict and metadata."""
    items = _safetensors_order(items)
    for n, _, s, _ in items:
        _check_text(n, "tensor name")
        if n == "__metadata__":
            raise InvalidArgumentError("a tensor cannot be named __metadata__ (the header's metadata key)")
        limits.check_ndim(len(s), f"tensor {n!r}")
    limits.check_entry_count(len(items), "the tensors")
    prefix = safetensors_header.build([(n, c, s, len(d)) for n, c, s, d in items], _check_metadata(metadata))
    if len(prefix) - 8 > limits.MAX_HEADER_SIZE:
        raise LimitExceededError(
            f"the safetensors header would be {len(prefix) - 8} bytes, more than {limits.MAX_HEADER_SIZE}"
        )
    entries = [
        SourceEntry(fmt_index.KIND_TENSOR, n, dtypes.from_name(c), tuple(int(x) for x in s), d)
        for n, c, s, d in items
    ]
    return Source(fmt_index.SOURCE_SAFETENSORS, prefix, entries)


def _chunk_sizes(source: Source, chunk_size: int, where: str) -> list[int]:
    """Each entry's chunk size (whole elements). An index the reader would refuse (a
    tiny chunk size on a big input) is refused here, before a single chunk is coded."""
    if not 0 < chunk_size <= fmt_index.MAX_CHUNK_SIZE:
        raise InvalidArgumentError(f"chunk size must be 1..{fmt_index.MAX_CHUNK_SIZE}, got {chunk_size}")
    sizes = [max(e.dtype.unit, chunk_size - chunk_size % e.dtype.unit) for e in source.entries]
    limits.check_index_size(len(source.prefix), [
        (len(e.name.encode("utf-8", "surrogatepass")), len(e.shape), fmt_index.chunk_count(len(e.data), size))
        for e, size in zip(source.entries, sizes)
    ], where)
    return sizes


class _Against:
    """The plan of a delta: the base, its record, and each entry's relation to it."""

    def __init__(self, source: Source, base, location: dict | None):
        self.base = base
        self.record = None
        self.matched = [False] * len(source.entries)
        if base is None:
            return
        sha = base.sha256()
        if sha is None:
            raise InvalidArgumentError("a base to compress against must be a file: its sha256 pins it")
        self.record = fmt_index.BaseRecord(bytes.fromhex(sha), base.size, base.prefix_xxh3, dict(location or {}))
        for k, e in enumerate(source.entries):
            if e.kind != fmt_index.KIND_TENSOR:
                continue
            info = base.info(e.name)
            # the same name, type and shape: the delta coders work value by value
            self.matched[k] = info is not None and info[0].id == e.dtype.id and tuple(info[1]) == tuple(e.shape)


def _repeats(source: Source, sizes: list[int]) -> dict[int, int]:
    """entry number -> the earlier entry whose bytes (and unit and chunking) it repeats:
    tied or duplicated tensors are stored once (spec/FORMAT.md 7.8). Only entries whose
    size another entry shares are read, and their pages are handed back after: this
    pass runs ahead of the encoders, and would otherwise map the whole input at once."""
    def key_of(k, e):
        return (len(e.data), e.dtype.unit, sizes[k])

    sizes_seen: dict[tuple, int] = {}
    for k, e in enumerate(source.entries):
        if len(e.data) >= chain.MIN_CODED:
            sizes_seen[key_of(k, e)] = sizes_seen.get(key_of(k, e), 0) + 1
    starts = source.offsets()

    def done_with(*ks):
        for j in ks:
            release(source.mapping, starts[j], starts[j] + len(source.entries[j].data))

    first: dict[tuple, int] = {}
    out = {}
    for k, e in enumerate(source.entries):
        if len(e.data) < chain.MIN_CODED or sizes_seen[key_of(k, e)] < 2:
            continue
        j = first.setdefault((xxhash.xxh3_128_intdigest(e.data),) + key_of(k, e), k)
        if j != k and delta.same_bytes(source.entries[j].data, e.data):
            out[k] = j
            done_with(j)
        done_with(k)
    return out


def write(
    source: Source,
    out,
    *,
    threads: int | None = None,
    level: int = chain.DEFAULT_LEVEL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress=None,
    where: str = "input",
    base=None,
    base_location: dict | None = None,
) -> WriteStats:
    """Write `source` as a .zipw stream to the binary file object `out`; with `base`
    (a basemodel.Base over a file), every tensor the base also has (same name, type
    and shape) is coded against it and the base is recorded, pinned by its sha256,
    with `base_location` (index.BaseRecord's location) as where to find it."""
    if not chain.MIN_LEVEL <= level <= chain.MAX_LEVEL:
        raise InvalidArgumentError(f"level must be {chain.MIN_LEVEL}..{chain.MAX_LEVEL}, got {level}")
    threads = threads or default_threads()
    lv = chain.Level.of(level)
    against = _Against(source, base, base_location)

    sha = hashlib.sha256(source.prefix)
    # With two or more threads the input's sha256 (serial by nature, ~2 GB/s) runs on a
    # thread of its own from the start: it needs no encoded chunk, so it overlaps all of
    # the encoding instead of holding up whichever worker has the next chunk.
    behind = Behind(source.mapping)
    hasher = _Hasher(sha, source, behind.position) if threads > 1 else None
    entry_chunk = _chunk_sizes(source, chunk_size, where)
    repeats = _repeats(source, entry_chunk)
    version = 2 if against.record is not None or repeats else 1

    def jobs():
        n = 0
        for k, e in enumerate(source.entries):
            size = entry_chunk[k]
            for i in range(fmt_index.chunk_count(len(e.data), size)):
                yield n, k, i, e.data[i * size : (i + 1) * size]
                n += 1

    rows = [
        np.zeros(fmt_index.chunk_count(len(e.data), entry_chunk[k]), fmt_index.CHUNK_ROW)
        for k, e in enumerate(source.entries)
    ]
    pos = out.write(container.write_header(version))
    # Workers encode chunks taken from one shared iterator; the output (and, at one
    # thread, the sha256), which must see the chunks in order, is advanced by whichever
    # worker holds the next chunk, while it is still in that core's cache (as in the
    # reader). At most `threads` payloads wait at any time.
    turns = Turns()
    starts = source.offsets()
    if hasher is not None:
        behind.floor = hasher.position

    def work(job):
        nonlocal pos
        n, k, i, piece = job
        e = source.entries[k]
        if k in repeats:
            codec, payload = delta.COPY, delta.copy_payload(repeats[k])
        elif against.matched[k]:
            a = i * entry_chunk[k]
            codec, payload = delta.encode_chunk(piece, against.base.read(e.name, a, a + len(piece)), e.dtype, lv)
        else:
            codec, payload = chain.encode_chunk(piece, e.dtype, lv)
        checksum = xxhash.xxh3_64_intdigest(piece)
        turns.wait(n)
        if hasher is None:
            sha.update(piece)
        row = rows[k][i]
        row["offset"], row["length"], row["codec"], row["checksum"] = pos, len(payload), codec, checksum
        pos += out.write(payload)
        if progress is not None:
            progress(len(piece))
        turns.pass_on(n)
        behind.done(n, starts[k] + i * entry_chunk[k] + len(piece))

    try:
        run_shared(work, jobs(), threads, turns.stop)
    except BaseException:
        if hasher is not None:
            hasher.finish(stop=True)
        raise
    if hasher is not None:
        hasher.finish()

    idx = fmt_index.Index(
        original_size=source.size,
        original_sha256=sha.digest(),
        source_kind=source.source_kind,
        prefix=source.prefix,
        entries=[
            fmt_index.Entry(e.kind, e.name, e.dtype, e.shape, 0, len(e.data), entry_chunk[k], rows[k],
                            fmt_index.TRANSFORM_BASE if against.matched[k] else fmt_index.TRANSFORM_NONE)
            for k, e in enumerate(source.entries)
        ],
        base=against.record,
    )
    assert idx.version == version, "the header's version is the index's"
    offset = len(source.prefix)
    for e in idx.entries:
        e.offset = offset
        offset += e.length
    blob = fmt_index.encode(idx)
    out.write(blob)
    out.write(container.write_trailer(pos, len(blob), xxhash.xxh3_64_intdigest(blob)))
    return WriteStats(source.size, pos + len(blob) + container.TRAILER_SIZE, sha.hexdigest())


class _Hasher:
    """The sha256 of the whole input, taken on a thread of its own in file order."""

    PIECE = 4 << 20  # so that a stop request is seen within a few ms
    # How far the hash may run ahead of the encoders (`coded`: the offset they are done
    # with). At ~2 GB/s it would otherwise touch the whole mapped input long before they
    # reach it, and every page it touched stays resident until they do.
    LEAD = 256 << 20

    def __init__(self, sha, source: Source, coded):
        self._stop = False
        self._pos = len(source.prefix)  # file offset hashed up to
        self._coded = coded
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(sha, source), name="zipw-sha256", daemon=True)
        self._thread.start()

    def _run(self, sha, source: Source) -> None:
        try:
            for e in source.entries:
                data = memoryview(e.data)
                for a in range(0, len(data), self.PIECE):
                    while self._pos - self._coded() > self.LEAD and not self._stop:
                        time.sleep(0.001)
                    if self._stop:
                        return
                    piece = data[a : a + self.PIECE]
                    sha.update(piece)  # releases the GIL
                    self._pos += len(piece)
        except BaseException as exc:  # pragma: no cover - hashing memory does not fail
            self._error = exc

    def position(self) -> int:
        return self._pos

    def finish(self, stop: bool = False) -> None:
        """Wait for the hash (after a failure elsewhere, `stop` it first)."""
        self._stop = stop
        self._thread.join()
        if self._error is not None:
            raise self._error


def _map_input(path: str):
    """(a read-only map of the file `path`, its os.stat_result). Only a regular file:
    a FIFO or a device would block or never end (opened without blocking, checked on
    the open file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise InvalidArgumentError(f"{path}: a folder, not a file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgumentError(f"{path}: not a regular file (a FIFO, device or socket); not read")
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if st.st_size else b""
    finally:
        os.close(fd)
    return mm, st


@contextlib.contextmanager
def _open_source(src: str, raw: bool, dtype_hint: str | None):
    """(Source over the mapped file `src`, its os.stat_result); the map is released after."""
    buf, st = _map_input(src)
    try:
        view = memoryview(buf)
        try:
            if raw or dtype_hint is not None:
                source = source_from_bytes(view, dtype_hint)
            else:
                try:
                    source = source_from_safetensors(view, where=src)
                except InvalidSafetensorsError:
                    if src.endswith(".safetensors"):
                        raise
                    source = source_from_bytes(view)
            _check_limits(source, src)
            source.mapping = buf
            yield source, st
        finally:
            source = None
            view.release()
    finally:
        if isinstance(buf, mmap.mmap):
            try:
                buf.close()
            except BufferError:  # a traceback still holds a view; the map goes with it
                pass


def _check_limits(source: Source, where: str) -> None:
    """Refuse, before anything is written, what the reader would refuse to read: the
    limits are the reader's own (format.limits), for every kind of source."""
    if len(source.prefix) > limits.MAX_PREFIX_SIZE:
        raise LimitExceededError(f"{where}: header of {len(source.prefix)} bytes exceeds {limits.MAX_PREFIX_SIZE}")
    limits.check_entry_count(len(source.entries), where)
    for e in source.entries:
        limits.check_ndim(len(e.shape), f"{where}: tensor {e.name!r}")


def compress_file(
    src: str | os.PathLike,
    dst: str | os.PathLike | None = None,
    *,
    threads: int | None = None,
    level: int = chain.DEFAULT_LEVEL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    raw: bool = False,
    dtype_hint: str | None = None,
    force: bool = False,
    sync: bool = False,
    progress=None,
    base=None,
    base_location: dict | None = None,
) -> WriteStats:
    """Compress the file `src` to `dst` (default: `src` + ".zipw").

    With `base` (a safetensors or .zipw path, or an open ZipwFile), the file is coded
    as a delta against that base model (a fine-tune against its base, a checkpoint
    against the one before): the output records the base's sha256 and, as where to
    find it, `base_location` (a dict: "path" relative to the output's folder, and/or
    "repo_id", "revision", "filename") or by default the base's path relative to the
    output's folder.

    A safetensors file (recognised by a valid header) is split per tensor; any other
    file, or any file with `raw=True`, is compressed as bytes, split as `dtype_hint`
    when one is given. A name ending in .safetensors that does not parse is an error.
    The output keeps the input's permission bits and times; it must not be the input
    itself (by any name), nor anything but a regular file (see _fileio.atomic_output).
    """
    src, dst = os.fspath(src), os.fspath(dst) if dst is not None else os.fspath(src) + container.SUFFIX
    with _open_source(src, raw, dtype_hint) as (source, st), _open_base(base, dst, base_location) as (bm, loc):
        check_distinct(src, st, dst)
        check_output(dst, force)
        _chunk_sizes(source, chunk_size, src)  # before any output exists
        with atomic_output(dst, force, sync, like=st) as out:
            reserve(out, source.size, required=False)  # the output is rarely larger
            stats = write(source, out, threads=threads, level=level, chunk_size=chunk_size, progress=progress,
                          where=src, base=bm, base_location=loc)
            out.truncate(out.tell())
    return stats


@contextlib.contextmanager
def _open_base(base, dst: str | None, location: dict | None):
    """(the opened base or None, the location to record): by default the base's path
    relative to the output's folder, with '/' separators."""
    if base is None:
        yield None, None
        return
    from .reader import ZipwFile  # a .zipw base is read as the reader reads it

    bm = basemodel.open_base(base, ZipwFile)
    try:
        if location is None and isinstance(base, (str, os.PathLike)):
            folder = os.path.dirname(os.path.abspath(dst)) if dst is not None else os.getcwd()
            location = {"path": os.path.relpath(os.path.abspath(os.fspath(base)), folder).replace(os.sep, "/")}
        yield bm, location
    finally:
        if bm is not base:
            bm.close()


def compress_to_stream(
    src: str | os.PathLike,
    out,
    *,
    threads: int | None = None,
    level: int = chain.DEFAULT_LEVEL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    raw: bool = False,
    dtype_hint: str | None = None,
    progress=None,
    base=None,
    base_location: dict | None = None,
) -> WriteStats:
    """Compress the file `src` into the binary stream `out` (a pipe: written in order,
    never seeked); `base` as for compress_file (the default location is relative to
    the current folder)."""
    src = os.fspath(src)
    with _open_source(src, raw, dtype_hint) as (source, _), _open_base(base, None, base_location) as (bm, loc):
        return write(source, out, threads=threads, level=level, chunk_size=chunk_size, progress=progress,
                     where=src, base=bm, base_location=loc)


def _write_kw(level, threads, chunk_size) -> dict:
    """The writer options the caller set (None leaves the writer's default)."""
    kw = {"level": level, "threads": threads, "chunk_size": chunk_size}
    return {k: v for k, v in kw.items() if v is not None}


def write_tensors(items, filename, metadata, *, level=None, threads=None, chunk_size=None, base=None,
                  base_location=None) -> None:
    """save_file: tensors in memory (see source_from_tensors) compressed into
    `filename` (overwritten, as safetensors overwrites; complete or absent), against
    `base` when given (as compress_file)."""
    source = source_from_tensors(items, metadata)
    filename = os.fspath(filename)
    with _open_base(base, filename, base_location) as (bm, loc), atomic_output(filename, force=True) as out:
        write(source, out, base=bm, base_location=loc, **_write_kw(level, threads, chunk_size))


def serialize_tensors(items, metadata, *, level=None, threads=None, chunk_size=None, base=None,
                      base_location=None) -> bytes:
    """save: the bytes of the .zipw file `write_tensors` would write."""
    out = io.BytesIO()
    with _open_base(base, None, base_location) as (bm, loc):
        write(source_from_tensors(items, metadata), out, base=bm, base_location=loc,
              **_write_kw(level, threads, chunk_size))
    return out.getvalue()
