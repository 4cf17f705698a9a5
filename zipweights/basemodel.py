"""The base model a delta file is coded against: found, checked, and read tensor by tensor.

A base is a plain safetensors file, a .zipw file (itself perhaps a delta: a chain of
checkpoints), or tensors already in memory. It is pinned by the sha256 of its
original file; checking that hash means reading the whole base, so opening checks
what costs nothing (the size and the xxh3 of the safetensors header, or the sha256 a
.zipw base records), and every chunk coded against the base carries the xxh3 of the
base bytes it used, checked before they are used. `zipw verify` hashes the whole base.

Where a base is looked for when the caller gives none: the path the delta file
records (relative to the delta file's folder), then the resolvers registered here by
the layers above (zipweights.hub registers one that downloads the recorded hub file
through the normal cache).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
from collections.abc import Mapping

import numpy as np
import xxhash

from . import dtypes
from ._fileio import open_regular_file
from .errors import (
    BaseMismatchError, BaseNotFoundError, InvalidArgumentError, InvalidSafetensorsError, LimitExceededError,
)
from .format import container, index as fmt_index, limits, safetensors_header

# Callables (record: index.BaseRecord, where: str) -> a local path or None, tried in
# order when a delta file's recorded path does not hold its base.
RESOLVERS: list = []
_RESOLVERS_LOCK = threading.Lock()


def add_resolver(fn) -> None:
    with _RESOLVERS_LOCK:
        if fn not in RESOLVERS:
            RESOLVERS.append(fn)


def remove_resolver(fn) -> None:
    with _RESOLVERS_LOCK:
        if fn in RESOLVERS:
            RESOLVERS.remove(fn)


class Base:
    """What a delta needs of its base: each tensor's type and shape, and its bytes."""

    where = "the base"
    size: int | None = None  # bytes of the original base file, when known
    prefix_xxh3: int | None = None  # xxh3 of its safetensors header, when known

    def sha256(self) -> str | None:
        """The sha256 of the original base file (hex), or None where there is no file."""
        return None

    def known_sha256(self) -> str | None:
        """The sha256 when it costs nothing to know (a .zipw base records it)."""
        return None

    def info(self, name: str):
        """(DType, shape) of the tensor `name`, or None when the base has none."""
        raise NotImplementedError

    def read(self, name: str, a: int, b: int) -> memoryview:
        """Bytes [a, b) of the tensor `name`."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FileBase(Base):
    """A plain safetensors file, mapped."""

    def __init__(self, path: str):
        self.where = os.fspath(path)
        fd = open_regular_file(self.where, self.where)
        try:
            self.size = os.fstat(fd).st_size
            self._mmap = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if self.size else None
        finally:
            os.close(fd)
        self._buf = memoryview(self._mmap) if self._mmap is not None else memoryview(b"")
        try:
            n = safetensors_header.read_header_size(bytes(self._buf[:8]), self.size, self.where)
            prefix = bytes(self._buf[: 8 + n])
            header = safetensors_header.parse(prefix, self.size, self.where)
        except InvalidSafetensorsError as exc:
            self.close()
            raise InvalidArgumentError(f"base {self.where}: not a safetensors file: {exc}") from None
        self.prefix_xxh3 = xxhash.xxh3_64_intdigest(prefix)
        start = header.data_start
        self._tensors = {
            t.name: (dtypes.from_name(t.dtype_name), t.shape, start + t.begin, t.end - t.begin) for t in header.tensors
        }
        self._sha = None

    def sha256(self) -> str:
        if self._sha is None:
            self._sha = hashlib.sha256(self._buf).hexdigest()
        return self._sha

    def info(self, name):
        t = self._tensors.get(name)
        return None if t is None else (t[0], t[1])

    def read(self, name, a, b):
        _, _, off, length = self._tensors[name]
        if not 0 <= a <= b <= length:
            raise InvalidArgumentError(f"base {self.where}: bytes [{a}, {b}) outside tensor {name!r}")
        return self._buf[off + a : off + b]

    def close(self):
        if getattr(self, "_buf", None) is not None:
            self._buf.release()
            self._buf = None
        if getattr(self, "_mmap", None) is not None:
            try:
                self._mmap.close()
            except BufferError:
                pass
            self._mmap = None


class ZipwBase(Base):
    """A .zipw file (a delta itself, or not): its tensors decoded chunk by chunk."""

    def __init__(self, zf, own: bool = True):
        self.zf, self._own = zf, own
        self.where = zf.name
        self.size = zf.original_size
        self.prefix_xxh3 = xxhash.xxh3_64_intdigest(zf.index.prefix)
        if zf.index.source_kind != fmt_index.SOURCE_SAFETENSORS:
            raise InvalidArgumentError(f"base {zf.name}: was not compressed from a safetensors file")

    def sha256(self):
        return self.zf.original_sha256

    known_sha256 = sha256

    def info(self, name):
        e = self.zf._by_name.get(name)
        return None if e is None else (e.dtype, e.shape)

    def read(self, name, a, b):
        e = self.zf.tensor(name)
        if not 0 <= a <= b <= e.length:
            raise InvalidArgumentError(f"base {self.where}: bytes [{a}, {b}) outside tensor {name!r}")
        if a == b:
            return memoryview(b"")
        i0, i1 = a // e.chunk_size, (b - 1) // e.chunk_size
        first = i0 * e.chunk_size
        buf = bytearray(e.chunk_span(i1)[1] - first)
        self.zf.read_into(e, buf, threads=1, chunks=range(i0, i1 + 1))
        return memoryview(buf)[a - first : b - first]

    def close(self):
        if self._own:
            self.zf.close()


class TensorsBase(Base):
    """Tensors in memory (a state dict of numpy arrays, torch tensors or bytes)."""

    def __init__(self, tensors: Mapping):
        self.where = "the base tensors given"
        self._t = tensors

    def _bytes(self, name):
        v = self._t[name]
        if hasattr(v, "detach"):  # torch: the bytes of a CPU tensor, without importing torch
            v = v.detach().cpu().contiguous().view(-1).view(__import__("torch").uint8).numpy()
        if isinstance(v, np.ndarray):  # as bytes: buffers of ml_dtypes types have no format
            return memoryview(np.ascontiguousarray(v).reshape(-1).view(np.uint8))
        return memoryview(v).cast("B")

    def info(self, name):
        if name not in self._t:
            return None
        v = self._t[name]
        dt = _dtype_of(v)
        return None if dt is None else (dt, tuple(int(d) for d in v.shape))

    def read(self, name, a, b):
        return self._bytes(name)[a:b]


def _dtype_of(v):
    name = str(getattr(v, "dtype", "")).replace("torch.", "")
    dt = dtypes.BY_ARRAY_NAME.get(name)
    if dt is None and hasattr(v, "dtype") and hasattr(v.dtype, "name"):
        dt = dtypes.BY_ARRAY_NAME.get(v.dtype.name)
    return dt


def _is_zipw(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(container.MAGIC)) == container.MAGIC
    except OSError:
        return False


def _is_zipw_file(obj) -> bool:
    return hasattr(obj, "index") and hasattr(obj, "read_into") and hasattr(obj, "original_sha256")


def open_base(spec, open_zipw, *, depth: int = 0, seen: frozenset = frozenset(), max_output_size=None) -> Base:
    """A Base from what a caller passes: a path (safetensors or .zipw), an open
    ZipwFile or safe_open handle, a Base, or a mapping of tensors. `open_zipw` is
    reader.ZipwFile (passed in: the reader uses this module)."""
    if isinstance(spec, Base):
        return spec
    if _is_zipw_file(spec):
        return ZipwBase(spec, own=False)
    zf = getattr(spec, "_zf", None)  # a zipweights safe_open handle
    if _is_zipw_file(zf):
        return ZipwBase(zf, own=False)
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if not os.path.exists(path):
            raise BaseNotFoundError(f"base {path}: no such file")
        if _is_zipw(path):
            return ZipwBase(open_zipw(path, max_output_size=max_output_size, _base_depth=depth, _base_seen=seen))
        return FileBase(path)
    if isinstance(spec, Mapping):
        return TensorsBase(spec)
    raise InvalidArgumentError(
        f"base must be a path, a ZipwFile, a safe_open handle or a mapping of tensors, got {type(spec).__name__}"
    )


def locate(record: fmt_index.BaseRecord, delta_path: str | None) -> list[str]:
    """Where a base is looked for, in order: the recorded relative path (beside the
    delta file), then what the registered resolvers answer."""
    tried = []
    rel = record.location.get("path")
    # only relative paths: a file from the Internet does not choose an absolute one
    if rel and delta_path is not None and not os.path.isabs(rel) and not rel.startswith(("/", "\\")):
        tried.append(os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(delta_path)), rel)))
    return tried


def resolve(record: fmt_index.BaseRecord, delta_path: str | None, where: str, open_zipw, **open_kw) -> Base:
    """The base of a delta file from its record alone; BaseNotFoundError naming every
    place looked in."""
    looked = []
    for path in locate(record, delta_path):
        looked.append(path)
        if os.path.isfile(path):
            return open_base(path, open_zipw, **open_kw)
    with _RESOLVERS_LOCK:
        resolvers = list(RESOLVERS)
    for fn in resolvers:
        path = fn(record, where)
        if path:
            return open_base(path, open_zipw, **open_kw)
    if record.location.get("repo_id"):
        looked.append(f"hub {record.location['repo_id']} (enable zipweights.hub or pass base=)")
    raise BaseNotFoundError(
        f"{where}: needs its base model (sha256 {record.sha256.hex()}), not found: looked in "
        f"{', '.join(looked) or 'no recorded place'}; pass base= (or --base)"
    )


def check_identity(base: Base, record: fmt_index.BaseRecord, where: str) -> None:
    """Refuse a base that is surely not the recorded one, with what costs nothing to
    compare; the chunks' own checks catch the rest."""
    known = base.known_sha256()
    if known is not None:
        if known != record.sha256.hex():
            raise mismatch(base, record, where)
        return
    if base.size is not None and base.size != record.size:
        raise mismatch(base, record, where, f" ({base.size} bytes, the recorded base has {record.size})")
    if base.prefix_xxh3 is not None and base.prefix_xxh3 != record.prefix_xxh3:
        raise mismatch(base, record, where, " (its safetensors header differs)")


def mismatch(base: Base, record: fmt_index.BaseRecord, where: str, why: str = "") -> BaseMismatchError:
    got = base.sha256()
    given = f"has sha256 {got}" if got else "is not a file (no sha256)"
    return BaseMismatchError(
        f"{where}: wrong base model: the file was coded against sha256 {record.sha256.hex()} "
        f"({record.describe()}); the base given, {base.where}, {given}{why}"
    )


def check_depth(depth: int, seen: frozenset, record: fmt_index.BaseRecord, where: str) -> None:
    if record.sha256 in seen:
        raise BaseMismatchError(f"{where}: the chain of bases loops (sha256 {record.sha256.hex()} is its own base)")
    if depth >= limits.MAX_BASE_DEPTH:
        raise LimitExceededError(f"{where}: chain of bases deeper than {limits.MAX_BASE_DEPTH}")
