""".zipw -> tensors, or the original file byte for byte.

Opening a file reads and checks its header, trailer and index, nothing else; chunks
are decoded on demand, in parallel, straight into their final place, and every chunk
is checked against its stored xxh3-64 after decoding. The whole-file sha256 is checked
by verify and where asked for (check_sha256=True), not by default: the chunk checks
cover every payload byte (spec/FORMAT.md, "What the checks catch").
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import threading

import xxhash

from . import basemodel, dtypes
from ._fileio import atomic_output, check_output, open_regular_file, reserve
from ._mapped import Behind, ReadAhead
from ._parallel import Turns, default_threads, run_shared
from .codec import chain, delta
from .errors import (
    BaseMismatchError,
    ChecksumMismatchError,
    InvalidArgumentError,
    CorruptDataError,
    LimitExceededError,
    TensorNotFoundError,
    ZipWeightsError,
)
from .format import container, index as fmt_index, limits, safetensors_header
from .format.limits import DEFAULT_MAX_OUTPUT_SIZE  # noqa: F401 (part of this module's API)


# Decode tasks are runs of consecutive chunks of at least this many bytes.
BATCH_BYTES = 1 << 20


def _byte_view(buf, writable: bool = False) -> memoryview:
    try:
        view = memoryview(buf).cast("B")
    except TypeError as exc:
        raise InvalidArgumentError(f"expected a contiguous bytes-like buffer: {exc}") from None
    if writable and view.readonly:
        raise InvalidArgumentError("the output buffer is read-only")
    return view


class ZipwFile:
    """A .zipw file opened for reading (a path, or bytes-like content).

    `max_output_size` (bytes; None: DEFAULT_MAX_OUTPUT_SIZE, 1 TiB) bounds what one call
    decodes: the whole original for restore_* and verify, the tensor or chunks asked
    for by read_*. More raises LimitExceededError before anything is allocated.

    A delta file (coded against a base model) needs its base for the tensors coded
    against it: `base` (a path, a ZipwFile, a safe_open handle or a mapping of tensors;
    see zipweights.basemodel), else the base is looked for where the file records it,
    when first needed. Tensors not coded against the base decode without it."""

    def __init__(self, source, *, name: str | None = None, max_output_size: int | None = None, base=None,
                 _base_depth: int = 0, _base_seen: frozenset = frozenset()):
        self._mmap = None
        self._base = None
        self._own_base = False
        self._base_spec = base
        self._base_depth, self._base_seen = _base_depth, _base_seen
        self._base_lock = threading.Lock()
        self.max_output_size = limits.output_limit(max_output_size)
        if isinstance(source, (str, os.PathLike)):
            self.name = name or os.fspath(source)
            self._mmap = _map_regular_file(source, self.name)
            self._buf = memoryview(self._mmap) if self._mmap is not None else memoryview(b"")
        else:
            self.name = name or "<buffer>"
            self._buf = _byte_view(source)
        try:
            self._parse()
        except BaseException:
            self.close()
            raise

    def _parse(self) -> None:
        buf, where = self._buf, self.name
        self.version = container.read_header(bytes(buf[: container.HEADER_SIZE]), where)
        offset, length, index_hash = container.read_trailer(
            bytes(buf[len(buf) - container.TRAILER_SIZE :]) if len(buf) >= container.TRAILER_SIZE else b"",
            len(buf),
            where,
        )
        if length > fmt_index.MAX_INDEX_SIZE:
            raise LimitExceededError(f"{where}: index of {length} bytes exceeds {fmt_index.MAX_INDEX_SIZE}")
        blob = bytes(buf[offset : offset + length])
        if xxhash.xxh3_64_intdigest(blob) != index_hash:
            raise ChecksumMismatchError(f"{where}: index checksum mismatch (index at offset {offset})")
        self.index = fmt_index.decode(blob, offset, where, self.version)
        self.entries = self.index.entries
        self._number = {id(e): k for k, e in enumerate(self.entries)}
        self._by_name = {e.name: e for e in self.entries if e.kind == fmt_index.KIND_TENSOR}
        self.compressed_size = len(buf)
        if self.index.source_kind == fmt_index.SOURCE_SAFETENSORS:
            self._check_header_matches_index()
        if self.index.base is not None:
            basemodel.check_depth(self._base_depth, self._base_seen, self.index.base, where)
            if self._base_spec is not None:
                self.base_model()  # a base given is checked at once
        elif self._base_spec is not None:
            raise InvalidArgumentError(f"{where}: a base was given, but the file is not coded against one")

    def _check_header_matches_index(self) -> None:
        """The kept safetensors header and the index describe the same tensors: readers
        take names and metadata from one and bytes from the other, so a file where they
        disagree is corrupt, whatever its checksums say."""
        where = self.name
        try:
            header = safetensors_header.parse(self.index.prefix, self.index.original_size, where)
        except InvalidArgumentError as exc:
            raise CorruptDataError(f"{where}: the kept safetensors header is invalid: {exc}") from None
        tensors = [e for e in self.entries if e.kind == fmt_index.KIND_TENSOR]
        if len(tensors) != len(header.tensors) or len(tensors) != len(self.entries):
            raise CorruptDataError(
                f"{where}: the safetensors header lists {len(header.tensors)} tensors, the index "
                f"{len(tensors)} tensors in {len(self.entries)} entries"
            )
        for t, e in zip(header.tensors, tensors):
            dt = dtypes.from_name(t.dtype_name)
            if (t.name, dt.id, t.shape, header.data_start + t.begin, t.end - t.begin) != (
                e.name, e.dtype.id, e.shape, e.offset, e.length
            ):
                raise CorruptDataError(
                    f"{where}: tensor {t.name!r} in the safetensors header ({t.dtype_name} {list(t.shape)} "
                    f"at {header.data_start + t.begin}) does not match index entry {e.name!r} "
                    f"({e.dtype.name} {list(e.shape)} at {e.offset})"
                )

    # -- the base model ------------------------------------------------------------
    @property
    def base_record(self):
        """The base model this file was coded against (index.BaseRecord), or None."""
        return self.index.base

    def base_model(self) -> "basemodel.Base":
        """The base, opened and checked on first use (BaseNotFoundError, BaseMismatchError)."""
        with self._base_lock:
            if self._base is None:
                rec = self.index.base
                if rec is None:
                    raise InvalidArgumentError(f"{self.name}: not coded against a base model")
                kw = {"depth": self._base_depth + 1, "seen": self._base_seen | {rec.sha256},
                      "max_output_size": self.max_output_size}
                if self._base_spec is not None:
                    base = basemodel.open_base(self._base_spec, ZipwFile, **kw)
                else:
                    base = basemodel.resolve(rec, self.name if self._mmap is not None else None, self.name,
                                             ZipwFile, **kw)
                own = base is not self._base_spec and not (
                    isinstance(base, basemodel.ZipwBase) and not base._own)
                try:
                    basemodel.check_identity(base, rec, self.name)
                    self._check_base_tensors(base)
                except BaseException:
                    if own:
                        base.close()
                    raise
                self._base, self._own_base = base, own
            return self._base

    def _check_base_tensors(self, base) -> None:
        for e in self.entries:
            if e.transform != fmt_index.TRANSFORM_BASE:
                continue
            info = base.info(e.name)
            if info is None:
                raise basemodel.mismatch(base, self.index.base, self.name, f" (it has no tensor {e.name!r})")
            dt, shape = info
            if dt.bits != e.dtype.bits or tuple(shape) != tuple(e.shape):  # spec 5.4: bits and shape
                raise basemodel.mismatch(
                    base, self.index.base, self.name,
                    f" (its tensor {e.name!r} is {dt.name} {list(shape)}, this file needs {e.dtype.name} {list(e.shape)})",
                )

    def verify_base(self) -> None:
        """Hash the whole base and compare it with the recorded sha256 (reads all of it)."""
        base = self.base_model()
        got = base.sha256()
        if got is not None and got != self.index.base.sha256.hex():
            raise basemodel.mismatch(base, self.index.base, self.name)

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        if getattr(self, "_base", None) is not None:
            if self._own_base:
                self._base.close()
            self._base = None
        if getattr(self, "_buf", None) is not None:
            self._buf.release()
            self._buf = None
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:  # a caller still holds a view; the map closes when it goes
                pass
            self._mmap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- facts ---------------------------------------------------------------------
    @property
    def original_size(self) -> int:
        return self.index.original_size

    @property
    def original_sha256(self) -> str:
        return self.index.original_sha256.hex()

    def tensor(self, name: str) -> fmt_index.Entry:
        try:
            return self._by_name[name]
        except KeyError:
            raise TensorNotFoundError(f"{self.name}: no tensor named {name!r}") from None

    # -- decoding ------------------------------------------------------------------
    def _decode_chunk(self, entry: fmt_index.Entry, i: int, out: memoryview) -> None:
        start, length, codec, _, checksum = entry.chunks[i].item()
        payload = self._buf[start : start + length]
        base = None
        try:
            if codec == delta.COPY:
                self._decode_chunk(self._copy_source(entry, i, payload), i, out)
            else:
                if codec in delta.NEEDS_BASE:
                    a, b = entry.chunk_span(i)
                    base = self.base_model().read(entry.name, a, b)
                delta.decode_chunk(codec, payload, entry.dtype, out, base)
        except delta.BaseChunkMismatch:
            raise basemodel.mismatch(self._base, self.index.base, self._where(entry, i, start)) from None
        except (BaseMismatchError, basemodel.BaseNotFoundError):
            raise
        except ZipWeightsError as exc:
            raise type(exc)(f"{self._where(entry, i, start)}: {exc}") from None
        got = xxhash.xxh3_64_intdigest(out)
        if got != checksum:
            if codec == delta.BASE:  # nothing of the file was decoded: the base differs
                raise basemodel.mismatch(self._base, self.index.base, self._where(entry, i, start))
            raise ChecksumMismatchError(
                f"{self._where(entry, i, start)}: checksum mismatch (expected {checksum:016x}, got {got:016x})"
            )

    def _copy_source(self, entry: fmt_index.Entry, i: int, payload) -> fmt_index.Entry:
        """The earlier entry a COPY chunk repeats, checked (spec/FORMAT.md 7.8)."""
        k = delta.copy_source(payload)
        me = self._number[id(entry)]
        if k >= me:
            raise CorruptDataError(f"copy of entry {k}, which is not an earlier entry")
        src = self.entries[k]
        if (src.dtype.unit, src.chunk_size) != (entry.dtype.unit, entry.chunk_size) or i >= len(src.chunks) \
                or src.chunk_span(i) != entry.chunk_span(i):
            raise CorruptDataError(f"copy of entry {k}, whose chunk {i} differs in size, unit or chunking")
        if int(src.chunks["codec"][i]) == delta.COPY:
            raise CorruptDataError(f"copy of entry {k} chunk {i}, itself a copy")
        return src

    def check_output_size(self, nbytes: int, what: str) -> None:
        """LimitExceededError when decoding `nbytes` (`what`) exceeds max_output_size."""
        limits.check_output_size(nbytes, self.max_output_size, f"{self.name}: {what}")

    def _what(self, entry: fmt_index.Entry) -> str:
        return f"tensor {entry.name!r}" if entry.kind == fmt_index.KIND_TENSOR else f"the bytes at {entry.offset}"

    def _where(self, entry: fmt_index.Entry, i: int, start: int) -> str:
        what = f"tensor {entry.name!r}" if entry.kind == fmt_index.KIND_TENSOR else f"bytes at {entry.offset}"
        return f"{self.name}: {what} chunk {i} (payload at offset {start})"

    @property
    def closed(self) -> bool:
        return self._buf is None

    def read_into(self, entry: fmt_index.Entry, out, threads: int | None = None, chunks=None) -> None:
        """Decode `entry` (or just the chunk numbers in `chunks`) into `out`, a writable
        buffer of the entry's length (or of the selected chunks' total length)."""
        out = _byte_view(out, writable=True)
        if chunks is None:
            if len(out) != entry.length:
                raise InvalidArgumentError(f"output holds {len(out)} bytes, entry needs {entry.length}")
            self.check_output_size(entry.length, self._what(entry))
            chunks = range(len(entry.chunks))
        else:
            chunks, pos = list(chunks), 0
            for i in chunks:
                if not 0 <= i < len(entry.chunks):
                    raise InvalidArgumentError(f"{self._what(entry)} has no chunk {i}")
                a, b = entry.chunk_span(i)
                pos += b - a
            if pos != len(out):
                raise InvalidArgumentError(f"output holds {len(out)} bytes, the chunks need {pos}")
            self.check_output_size(pos, f"{self._what(entry)}, the chunks asked for,")
        self._decode([(out, [(entry, chunks)])], threads or default_threads())

    def read_many(self, entries, outs, threads: int | None = None) -> None:
        """Decode every entry (an index Entry, or a tensor's name) into its buffer in
        `outs` (writable, of the entry's length), all on one set of workers, so small
        tensors do not each pay for threads of their own."""
        entries = [self.tensor(e) if isinstance(e, str) else e for e in entries]
        outs = [_byte_view(out, writable=True) for out in outs]
        if len(outs) != len(entries):
            raise InvalidArgumentError(f"{len(entries)} entries but {len(outs)} output buffers")
        for e, out in zip(entries, outs):
            if len(out) != e.length:
                raise InvalidArgumentError(f"output holds {len(out)} bytes, {self._what(e)} needs {e.length}")
        self.check_output_size(sum(e.length for e in entries), "all tensors together")
        n_chunks = sum(len(e.chunks) for e in entries)
        parts = ((out, [(e, range(len(e.chunks)))]) for e, out in zip(entries, outs))
        self._decode(parts, min(threads or default_threads(), n_chunks), ahead=_payload_span(entries))

    def read_bytes(self, name: str, threads: int | None = None) -> bytearray:
        entry = self.tensor(name)
        self.check_output_size(entry.length, self._what(entry))
        out = bytearray(entry.length)
        self.read_into(entry, out, threads)
        return out

    def restore_into(self, out, threads: int | None = None, check_sha256: bool = False, progress=None) -> None:
        """Rebuild the whole original file into `out`, a writable buffer of original size
        (every chunk's xxh3-64 checked; the whole-file sha256 too with check_sha256)."""
        out = _byte_view(out, writable=True)
        if len(out) != self.original_size:
            raise InvalidArgumentError(f"output holds {len(out)} bytes, original is {self.original_size}")
        self.check_output_size(self.original_size, "the original file")
        prefix = self.index.prefix
        out[: len(prefix)] = prefix
        self._whole(out[len(prefix) :], None, threads, check_sha256, progress)

    def restore_to_fd(self, fd: int, threads: int | None = None, check_sha256: bool = False, progress=None,
                      *, arrival=None) -> None:
        """Rebuild the whole original file into the open file `fd` (sized by the caller).

        Workers decode runs of consecutive chunks (a contiguous span of the original)
        into a buffer of their own, which stays in cache, and write each run at its
        offset with one pwrite: measured here, that is over twice as fast as decoding
        through a fresh file mapping, whose page faults cost more than the decode.

        `arrival`: the file is still arriving (hub/stream.py): `arrival.wait(end)`
        returns once its bytes below `end` are in (or raises to stop), `arrival.stop()`
        wakes a waiter when a worker fails, and `arrival.behind` (a _mapped.Behind) is
        told what the decode is done with."""
        self.check_output_size(self.original_size, "the original file")
        os.pwrite(fd, self.index.prefix, 0)
        self._whole(None, fd, threads, check_sha256, progress, arrival)

    def verify(self, threads: int | None = None, progress=None) -> None:
        """Decode every chunk, check every checksum and the original sha256 (and, for a
        delta file, the base's sha256); write nothing."""
        self.check_output_size(self.original_size, "the original file")
        self._whole(None, None, threads, True, progress)
        if self.index.base is not None and self._base is not None:
            self.verify_base()

    def whole_runs(self, out=None):
        """(parts, target, bufsize) of a whole-file pass: every entry's chunks, cut into
        runs of at least `target` bytes by _runs, each under `bufsize` bytes."""
        largest = max((min(e.chunk_size, e.length) for e in self.entries if e.length), default=0)
        target = max(BATCH_BYTES, largest)
        # a run is under target + largest bytes, and never more than all the entries:
        # the buffers are bounded by what the index declares
        bufsize = min(target + largest, self.original_size - len(self.index.prefix))
        return [(out, [(e, range(len(e.chunks))) for e in self.entries])], target, bufsize

    def _whole(self, out, fd, threads, check_sha256, progress, arrival=None) -> None:
        """Decode every chunk in file order, checking each (and the sha256 if asked): into `out`
        (a view of everything after the prefix), or into the workers' own buffers,
        written to `fd` when given."""
        parts, target, bufsize = self.whole_runs(out)
        n_chunks = sum(len(e.chunks) for e in self.entries)
        sha = hashlib.sha256(self.index.prefix) if check_sha256 else None
        self._decode(
            parts, max(1, min(threads or default_threads(), n_chunks)),
            target=target, bufsize=bufsize, fd=fd, sha=sha, progress=progress, release=True,
            ahead=None if arrival is not None else _payload_span(self.entries), arrival=arrival,
        )
        if sha is not None and sha.digest() != self.index.original_sha256:
            raise ChecksumMismatchError(
                f"{self.name}: restored content sha256 {sha.hexdigest()} differs from the stored "
                f"{self.original_sha256}"
            )

    @staticmethod
    def _runs(parts, target: int):
        """(original offset, destination, [(entry, chunk, a, b)], size): the chunks of
        `parts` cut into runs of at least `target` bytes (where there are that many);
        (a, b) is a chunk's span inside its run. `parts` yields (dest, [(entry, chunk
        numbers)]): `dest` is a writable view that the part's chunks fill in order, or
        None (the run is decoded into a worker's buffer). A run never spans two parts,
        and the chunks of one run are consecutive in the original where a run is
        written at its offset (whole-file restore)."""
        for dest, pieces in parts:
            run, start, size, pos = [], None, 0, 0
            for e, chunks in pieces:
                for i in chunks:
                    a, b = e.chunk_span(i)
                    if start is None:
                        start = e.offset + a
                    run.append((e, i, size, size + b - a))
                    size += b - a
                    if size >= target:
                        yield start, None if dest is None else dest[pos : pos + size], run, size
                        pos += size
                        run, start, size = [], None, 0
            if run:
                yield start, None if dest is None else dest[pos : pos + size], run, size

    def _decode(self, parts, threads: int, *, target: int = BATCH_BYTES, bufsize: int = 0, fd=None, sha=None,
                progress=None, release: bool = False, ahead=None, arrival=None) -> None:
        """The one decode engine: every run of `parts` (see _runs) decoded and checked
        on `threads` workers; with `fd`, each run written at its original offset; with
        `sha`, the runs hashed in file order; `release`: a pass over the whole file
        hands the mapped pages it is done with back (payloads tile the file in order,
        spec 5.2); `ahead` = (start, end): the payload span the runs read in order,
        which a ReadAhead thread asks the kernel for ahead of the decode (a cold
        page cache: read and decode overlap); `arrival`: see restore_to_fd (each run
        taken only once its payloads are in, in file order).

        Each worker takes the next run from one shared iterator (one task per chunk
        costs more in scheduling than a small chunk takes to decode) and decodes it
        into its destination or its own buffer (which stays in that core's cache); the
        sha256, which must see the runs in file order, is advanced by whichever worker
        holds the next run, from that buffer, while the other worker decodes. Measured
        here (2 cores), that is 1.7x (with the sha256) to 2.2x (without) as fast as
        handing every buffer to one hashing thread through an ordered queue, whose
        buffers hop between cores."""
        turns = Turns()  # the run whose bytes the sha256 takes next
        progress_lock = threading.Lock()  # progress bars are not all thread-safe
        local = threading.local()
        behind = arrival.behind if arrival is not None else Behind(self._mmap if release else None)

        def work(job):
            k, (start, view, run, size) = job
            if view is None:
                if not hasattr(local, "buf"):
                    local.buf = memoryview(bytearray(bufsize))
                view = local.buf[:size]
            for e, i, a, b in run:
                self._decode_chunk(e, i, view[a:b])
            behind.done(k, run_end(run))
            written = fd is None
            if sha is not None:
                # the sha256 is the one serial stage: when it is our turn, hash first
                # and write after passing the turn on; otherwise write while waiting
                if not written and not turns.is_ours(k):
                    pwrite_all(fd, view, start)
                    written = True
                turns.wait(k)
                sha.update(view)  # releases the GIL; the turn stays ours until we pass it
                turns.pass_on(k)
            if not written:
                pwrite_all(fd, view, start)
            if progress is not None:
                with progress_lock:
                    progress(size)

        # taken lazily: a list of runs would cost a tuple per chunk
        runs = self._runs(parts, target)
        stop = turns.stop
        if arrival is not None:
            runs = _arrived(runs, arrival)

            def stop():
                turns.stop()
                arrival.stop()

        with ReadAhead(self._mmap, *(ahead or (0, 0)), position=behind.position):
            run_shared(work, enumerate(runs), threads, stop)


def run_end(run) -> int:
    """Where the payload of a run's last chunk ends in the file (_runs' run)."""
    last, i = run[-1][0].chunks, run[-1][1]
    return int(last["offset"][i]) + int(last["length"][i])


def _arrived(runs, arrival):
    """`runs`, each handed on once the file's bytes below its payloads' end are in
    (payloads tile the file in chunk order, spec 5.2)."""
    for r in runs:
        arrival.wait(run_end(r[2]))
        yield r


def _payload_span(entries) -> tuple[int, int]:
    """(first, end) of the payload bytes of `entries`' chunks in the file."""
    spans = [(int(e.chunks["offset"][0]), int(e.chunks["offset"][-1]) + int(e.chunks["length"][-1]))
             for e in entries if len(e.chunks)]
    return (min(a for a, _ in spans), max(b for _, b in spans)) if spans else (0, 0)


def _map_regular_file(path, where: str):
    fd = open_regular_file(path, where)
    try:
        size = os.fstat(fd).st_size
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if size else None
    finally:
        os.close(fd)


def pwrite_all(fd: int, view: memoryview, pos: int) -> None:
    while len(view):  # pwrite may write less than asked
        n = os.pwrite(fd, view, pos)
        view, pos = view[n:], pos + n


def decompress_file(
    src: str | os.PathLike,
    dst: str | os.PathLike | None = None,
    *,
    threads: int | None = None,
    force: bool = False,
    check_sha256: bool = False,
    sync: bool = False,
    progress=None,
    max_output_size: int | None = None,
    base=None,
) -> "Restored":
    """Restore the original file from the .zipw `src` into `dst` (default: `src`
    without its .zipw suffix); return the output path (a str that also carries the
    original's `original_sha256` and `original_size`). An original larger than
    `max_output_size` (bytes; None: DEFAULT_MAX_OUTPUT_SIZE) is refused before the
    output is created. A delta file needs its `base` (see ZipwFile).

    Every chunk is checked against its xxh3-64 as it is decoded, always; the
    whole-file sha256 only with `check_sha256=True` (verify_file always checks it):
    it also proves the restored file as a whole equals the original, at the cost of
    a serial hash over every byte (spec/FORMAT.md, "What the checks catch")."""
    src = os.fspath(src)
    if dst is None:
        if not src.endswith(container.SUFFIX):
            raise InvalidArgumentError(f"{src}: no .zipw suffix to strip; give an output name")
        dst = src[: -len(container.SUFFIX)]
    dst = os.fspath(dst)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise InvalidArgumentError(f"{src}: input and output are the same file")
    check_output(dst, force)
    with ZipwFile(src, max_output_size=max_output_size, base=base) as zf:
        zf.check_output_size(zf.original_size, "the original file")
        if zf.index.base is not None:
            zf.base_model()  # found and checked before the output exists
        with atomic_output(dst, force, sync, like=src) as f:  # keeps src's mode and times
            reserve(f, zf.original_size)
            zf.restore_to_fd(f.fileno(), threads, check_sha256, progress)
    return Restored(dst, zf.original_sha256, zf.original_size)


class Restored(str):
    """decompress_file's answer: the output path, and what the index said of the file."""

    def __new__(cls, path: str, original_sha256: str, original_size: int):
        self = super().__new__(cls, path)
        self.original_sha256, self.original_size = original_sha256, original_size
        return self


def verify_file(
    src: str | os.PathLike, *, threads: int | None = None, progress=None, max_output_size: int | None = None,
    base=None,
) -> "ZipwFile":
    """Decode all of `src`, checking every checksum and the sha256 (a delta file: its
    base's too); an original larger than `max_output_size` (None:
    DEFAULT_MAX_OUTPUT_SIZE) is refused first."""
    with ZipwFile(src, max_output_size=max_output_size, base=base) as zf:
        zf.verify(threads, progress)
    return zf


