"""`safe_open` for .zipw files, with the surface of `safetensors.safe_open`.

    with zipweights.safe_open("model.safetensors.zipw", framework="pt") as f:
        for name in f.keys():
            t = f.get_tensor(name)              # decodes that tensor's chunks only
        rows = f.get_slice("emb")[100:200]      # decodes only the chunks holding rows 100..199

A file is recognised as zipweights by its magic, not by its name; a plain
.safetensors file is handed to `safetensors.safe_open` itself, so the same call reads
both. Every tensor returned owns fresh memory (or a view of memory it keeps alive):
nothing points into the file mapping, and the caller's buffers are never written.
"""

from __future__ import annotations

import mmap
import os
import sys

import numpy as np

from . import dtypes as zdtypes
from .errors import BadMagicError, CorruptDataError, InvalidArgumentError, TruncatedDataError, ZipWeightsError
from .format import container, index as fmt_index, safetensors_header
from .reader import ZipwFile

try:  # safetensors is a dependency; keep the originals even if transparent mode patches them later
    import safetensors as _st

    _ORIGINAL_SAFE_OPEN = _st.safe_open
    _SafetensorError = _st.SafetensorError
except ImportError:  # pragma: no cover - safetensors is a hard dependency
    _st = None
    _ORIGINAL_SAFE_OPEN = None
    _SafetensorError = Exception


class SafetensorsAPIError(ZipWeightsError, _SafetensorError):
    """An error of the safetensors-compatible API: caught by `except SafetensorError`
    as it would be with safetensors, and by `except ZipWeightsError`."""


class SafetensorsBadMagicError(BadMagicError, _SafetensorError):
    """`safe_open` of a file that is neither a safetensors nor a valid .zipw file but
    is named or shaped like a .zipw (a damaged magic): a BadMagicError, and a
    SafetensorError as safetensors would raise."""


class SafetensorsTruncatedDataError(TruncatedDataError, _SafetensorError):
    """`safe_open` of a .zipw cut inside its magic: a TruncatedDataError and a
    SafetensorError."""


_COMPAT_ERRORS = {BadMagicError: SafetensorsBadMagicError, TruncatedDataError: SafetensorsTruncatedDataError}


_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)
BULK_MIN = 4 << 20  # below this a whole-model load takes one np.empty per tensor

_NUMPY_FRAMEWORKS = {"np", "numpy"}
_TORCH_FRAMEWORKS = {"pt", "torch", "pytorch"}


def _read_ends(path) -> tuple[bytes, bytes, int] | None:
    """(first 8 bytes, last 8 bytes or b"", size) of the regular file `path`; None when
    it is not one (a FIFO is never opened for reading: that would block)."""
    from ._fileio import open_regular_file

    try:
        fd = open_regular_file(path, "")
    except (OSError, TypeError, ValueError, ZipWeightsError):
        return None
    try:
        n, t = len(container.MAGIC), len(container.TRAILER_MAGIC)
        head = os.pread(fd, n, 0)
        size = os.fstat(fd).st_size
        tail = os.pread(fd, t, size - t) if size >= n + t else b""
        return head, tail, size
    except OSError:
        return None
    finally:
        os.close(fd)


def is_zipw_file(path) -> bool:
    """True when `path` is a readable regular file that starts with the zipweights magic."""
    ends = _read_ends(path)
    return ends is not None and ends[0] == container.MAGIC


def is_zipw_bytes(data) -> bool:
    try:
        return bytes(memoryview(data).cast("B")[: len(container.MAGIC)]) == container.MAGIC
    except TypeError:
        return False


def _for_zipw_reader(head: bytes, tail: bytes, named_zipw: bool) -> bool:
    """Whether a file starting with `head` (its first 8 bytes) and ending with `tail`
    (its last 8, or b"") goes to the zipweights reader: it has the magic; or it cannot
    start a safetensors file (shorter than 8 bytes, or a header length above
    safetensors' limit) and it is named *.zipw, is a strict prefix of the magic, or
    ends with the trailer magic: a damaged or cut .zipw, whose error then names what
    is wrong. No file safetensors would read is taken from it."""
    magic = container.MAGIC
    if head == magic:
        return True
    if len(head) >= len(magic) and int.from_bytes(head, "little") <= safetensors_header.MAX_HEADER_SIZE:
        return False
    if named_zipw:
        return True
    if len(head) < len(magic):
        return len(head) > 0 and magic.startswith(head)
    return tail == container.TRAILER_MAGIC


def zipw_candidate(path) -> bool:
    """True when `path` is for the zipweights reader rather than safetensors: it has
    the magic, or it looks like a damaged or cut .zipw (see _for_zipw_reader)."""
    try:
        named_zipw = os.fspath(path).endswith(container.SUFFIX)
    except TypeError:
        named_zipw = False
    ends = _read_ends(path)
    if ends is None:  # a FIFO or device named *.zipw: the reader refuses it by name
        return named_zipw and os.path.exists(path)
    return _for_zipw_reader(ends[0], ends[1], named_zipw)


def zipw_bytes_candidate(data) -> bool:
    """`zipw_candidate` for content held in memory."""
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        return False
    n, t = len(container.MAGIC), len(container.TRAILER_MAGIC)
    tail = bytes(view[-t:]) if len(view) >= n + t else b""
    return _for_zipw_reader(bytes(view[:n]), tail, False)


def _compat(exc: ZipWeightsError) -> ZipWeightsError:
    """The error to raise from a safetensors-shaped entry point: for a file that is
    not a (complete) .zipw, one that is also a SafetensorError."""
    cls = _COMPAT_ERRORS.get(type(exc))
    if cls is None:
        return exc
    new = cls(*exc.args)
    new.__traceback__ = exc.__traceback__
    return new


# -- dtypes ----------------------------------------------------------------------
def numpy_dtype(code: str) -> np.dtype:
    """numpy dtype of a safetensors dtype code; ml_dtypes types where numpy has none."""
    import ml_dtypes

    dt = zdtypes.SAFETENSORS.get(code)
    name = dt.array_name if dt is not None else None
    try:
        return np.dtype(getattr(ml_dtypes, name, name))  # (an older ml_dtypes lacks some FP8 types)
    except TypeError:
        raise SafetensorsAPIError(f"dtype {code} has no numpy (or ml_dtypes) equivalent") from None


def torch_dtype(code: str):
    import torch

    row = zdtypes.SAFETENSORS.get(code)
    dt = getattr(torch, row.array_name, None) if row is not None and row.array_name else None
    if dt is None:
        raise SafetensorsAPIError(f"dtype {code} has no torch equivalent in torch {torch.__version__}")
    return dt


def _normalize_framework(framework) -> str:
    fw = str(framework).lower()
    if fw in _NUMPY_FRAMEWORKS:
        return "np"
    if fw in _TORCH_FRAMEWORKS:
        return "pt"
    raise SafetensorsAPIError(
        f"framework {framework!r} is not supported for .zipw files (use 'np' or 'pt')"
    )


def _torch_device(device):
    import torch

    if isinstance(device, int):
        return torch.device("cuda", device)
    return torch.device(device)


# -- buffers -------------------------------------------------------------------------
class _Wrapper:
    """Turns freshly decoded bytes (a uint8 numpy array it may keep) into a tensor."""

    def __init__(self, framework: str, device):
        self.framework = framework
        self.device = device
        if framework == "np":
            if device not in (None, "cpu"):
                raise SafetensorsAPIError(f"framework 'np' only supports device 'cpu', got {device!r}")
        else:
            self.torch_device = _torch_device(device if device is not None else "cpu")

    def empty(self, nbytes: int) -> np.ndarray:
        return np.empty(nbytes, np.uint8)

    def empty_many(self, sizes) -> list[np.ndarray]:
        """Buffers of `sizes` bytes for a whole-model load, carved out of one anonymous
        map with transparent huge pages asked for: the first touch of fresh memory
        (a page fault and a zeroed page per 4 KiB) cost more than a fast chunk's
        decode; a 2 MiB page takes one fault. Measured on CRAFT bf16 (41 MB, 1
        thread): decode into fresh np.empty buffers 38 ms, into touched ones 32, into
        this map 33.5. The tensors share the map (as safetensors' own load_file's
        share the file's), which is freed when the last of them goes."""
        sizes = [int(n) for n in sizes]
        align = 64  # every dtype's alignment, and a cache line
        total = sum(-(-n // align) * align for n in sizes)
        if total == 0 or total < BULK_MIN or _HUGEPAGE is None:
            return [self.empty(n) for n in sizes]
        m = mmap.mmap(-1, total, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        try:
            m.madvise(_HUGEPAGE)
        except OSError:  # a kernel without transparent huge pages: 4 KiB pages then
            pass
        whole = np.frombuffer(m, np.uint8)
        out, pos = [], 0
        for n in sizes:
            out.append(whole[pos : pos + n])
            pos += -(-n // align) * align
        return out

    def make(self, raw: np.ndarray, code: str, shape, name: str = "?"):
        """A tensor of `code`/`shape` over `raw` (uint8, owned by the tensor)."""
        shape = tuple(int(d) for d in shape)
        if self.framework == "np":
            dt = numpy_dtype(code)
            try:  # a valid shape numpy cannot hold: a dimension >= 2**63, say, of an empty tensor
                return raw.view(dt).reshape(shape)
            except (ValueError, TypeError, OverflowError) as exc:
                raise SafetensorsAPIError(f"tensor {name!r}: numpy cannot hold {code} {list(shape)}: {exc}") from None
        import torch

        dt = torch_dtype(code)
        try:
            if raw.size == 0:
                t = torch.empty(shape, dtype=dt)
            else:
                t = torch.from_numpy(raw).view(dt).reshape(shape)
        except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
            raise SafetensorsAPIError(f"tensor {name!r}: torch cannot hold {code} {list(shape)}: {exc}") from None
        if self.torch_device.type != "cpu":
            t = t.to(self.torch_device)
        return t


def _check_sub_byte(code: str, name: str) -> None:
    dt = zdtypes.from_name(code)
    if dt.bits % 8:
        raise SafetensorsAPIError(f"tensor {name!r}: sub-byte dtype {code} cannot be returned as a tensor")


class _Info:
    __slots__ = ("name", "dtype_name", "shape", "entry")

    def __init__(self, name, dtype_name, shape, entry):
        self.name, self.dtype_name, self.shape, self.entry = name, dtype_name, tuple(shape), entry


def _threads_for(entry, threads):
    """One chunk needs no thread pool (starting one costs more than small tensors)."""
    if threads:
        return threads
    return 1 if len(entry.chunks) <= 1 else None


# -- the open file --------------------------------------------------------------------
class ZipwSafeOpen:
    """An opened .zipw file with the methods of `safetensors.safe_open`."""

    def __init__(
        self, filename, framework, device="cpu", *, threads: int | None = None,
        max_output_size: int | None = None, base=None, **_ignored,
    ):
        self._framework = _normalize_framework(framework)
        self._wrap = _Wrapper(self._framework, device)
        self._threads = threads
        self._zf = None
        own = not isinstance(filename, ZipwFile)
        if own:
            try:
                zf = ZipwFile(filename, max_output_size=max_output_size, base=base)
            except (BadMagicError, TruncatedDataError) as exc:
                raise _compat(exc) from None
        else:
            zf = filename
        self._zf = zf
        self._name = zf.name
        self._header = None  # the safetensors JSON, parsed when first needed
        try:
            if zf.index.source_kind != fmt_index.SOURCE_SAFETENSORS:
                raise SafetensorsAPIError(f"{zf.name}: was not compressed from a safetensors file")
            infos = {}
            opaque = False
            for e in zf.entries:
                if e.kind != fmt_index.KIND_TENSOR:
                    continue
                opaque |= e.dtype is zdtypes.OPAQUE
                infos[e.name] = _Info(e.name, e.dtype.name, e.shape, e)
            if opaque:  # dtype names the table does not know are only in the JSON
                for t in self._parsed_header().tensors:
                    info = infos.get(t.name)
                    if info is None:
                        raise CorruptDataError(f"{zf.name}: tensor {t.name!r} of the safetensors header "
                                               "has no entry in the index")
                    if info.dtype_name == "OPAQUE":
                        infos[t.name] = _Info(t.name, t.dtype_name, t.shape, info.entry)
        except BaseException:
            self._zf = None
            if own:
                zf.close()
            raise
        self._infos = infos
        self._offset_keys = list(infos)  # entries tile the original in offset order

    def _parsed_header(self):
        if self._header is None:
            zf = self._file()
            self._header = safetensors_header.parse(zf.index.prefix, zf.original_size, zf.name)
        return self._header

    # context manager ------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        # Slices taken from this file keep their own reference to the ZipwFile, as
        # safetensors' slices keep the storage; the mapping goes when the last one does.
        self._zf = None

    def _file(self) -> ZipwFile:
        if self._zf is None:
            raise SafetensorsAPIError("File is closed")
        return self._zf

    # facts -----------------------------------------------------------------------------
    def keys(self) -> list[str]:
        self._file()
        return sorted(self._infos)

    def offset_keys(self) -> list[str]:
        self._file()
        return list(self._offset_keys)

    def metadata(self):
        self._file()
        md = self._parsed_header().metadata
        return dict(md) if md is not None else None

    def _lookup(self, name: str):
        zf = self._file()
        info = self._infos.get(name)
        if info is None:
            raise SafetensorsAPIError(f"File does not contain tensor {name}")
        return zf, info, info.entry

    # tensors ---------------------------------------------------------------------------
    def get_tensor(self, name: str):
        zf, info, entry = self._lookup(name)
        _check_sub_byte(info.dtype_name, name)
        zf.check_output_size(entry.length, f"tensor {name!r}")
        raw = self._wrap.empty(entry.length)
        if entry.length:
            zf.read_into(entry, raw, threads=_threads_for(entry, self._threads))
        return self._wrap.make(raw, info.dtype_name, info.shape, name)

    def get_slice(self, name: str) -> "ZipwSlice":
        zf, info, entry = self._lookup(name)
        return ZipwSlice(zf, info, entry, self._wrap, self._threads)

    def get_tensors(self) -> dict:
        """Every tensor, in file order, decoded in parallel chunk by chunk."""
        zf = self._file()
        zf.check_output_size(sum(self._infos[n].entry.length for n in self._offset_keys), "all tensors together")
        infos = [self._infos[name] for name in self._offset_keys]
        for name, info in zip(self._offset_keys, infos):
            _check_sub_byte(info.dtype_name, name)
        raws = self._wrap.empty_many([info.entry.length for info in infos])
        items = [(name, info, info.entry, raw) for name, info, raw in zip(self._offset_keys, infos, raws)]
        zf.read_many([entry for _, _, entry, _ in items], [raw for _, _, _, raw in items], self._threads)
        return {name: self._wrap.make(raw, info.dtype_name, info.shape, name) for name, info, _, raw in items}

    def __repr__(self) -> str:
        state = "closed" if self._zf is None else "open"
        return f"<zipweights.safe_open {self._name!r} framework={self._framework!r} ({state})>"


def load_zipw_bytes(data, framework: str, device="cpu", threads=None, max_output_size=None, base=None) -> dict:
    """Decode a whole .zipw held in memory into fresh tensors (the buffer is only read)."""
    try:
        zf = ZipwFile(data, name="<bytes>", max_output_size=max_output_size, base=base)
    except (BadMagicError, TruncatedDataError) as exc:
        raise _compat(exc) from None
    with zf:
        return ZipwSafeOpen(zf, framework, device, threads=threads).get_tensors()


# -- slices -----------------------------------------------------------------------------
class ZipwSlice:
    """`get_slice(name)`: shape and dtype without decoding; `[...]` decodes only the
    chunks that hold the selected elements."""

    def __init__(self, zf: ZipwFile, info, entry, wrap: _Wrapper, threads):
        self._zf, self._info, self._entry, self._wrap, self._threads = zf, info, entry, wrap, threads

    def get_shape(self) -> list[int]:
        return list(self._info.shape)

    def get_dtype(self) -> str:
        return self._info.dtype_name

    def _decode_span(self, start: int, stop: int) -> np.ndarray:
        """Entry bytes [start, stop) in a fresh uint8 array, decoding only the chunks
        that overlap them."""
        entry, size = self._entry, self._entry.chunk_size
        if stop <= start:
            return np.empty(0, np.uint8)
        first, last = start // size, (stop - 1) // size
        lo = first * size
        hi = min((last + 1) * size, entry.length)
        self._zf.check_output_size(hi - lo, f"a slice of tensor {self._info.name!r}")
        buf = np.empty(hi - lo, np.uint8)
        threads = self._threads or (1 if first == last else None)
        self._zf.read_into(entry, buf, threads=threads, chunks=list(range(first, last + 1)))
        if lo == start and hi == stop:
            return buf
        return buf[start - lo : stop - lo].copy()  # do not keep the rest of the chunks alive

    def __getitem__(self, key):
        info = self._info
        code, shape = info.dtype_name, tuple(info.shape)
        _check_sub_byte(code, info.name)
        itemsize = zdtypes.from_name(code).bits // 8
        if self._zf.closed:
            raise SafetensorsAPIError("File is closed")
        plan = _plan(key, shape)
        if plan is None:  # fancy indexing, newaxis, ...: decode everything, index
            raw = self._decode_span(0, self._entry.length)
            full = self._wrap.make(raw, code, shape, info.name)
            return _own(full[key], self._wrap.framework)
        elem_start, elem_stop, sub_shape, rest = plan
        raw = self._decode_span(elem_start * itemsize, elem_stop * itemsize)
        part = self._wrap.make(raw, code, sub_shape, info.name)
        return _own(part[rest] if rest != () else part, self._wrap.framework)


def _own(x, framework):
    """A result that does not keep a larger decode buffer alive and is contiguous, as
    safetensors returns."""
    if framework == "np":
        if not isinstance(x, np.ndarray):  # numpy scalar from full integer indexing
            return np.asarray(x)
        if x.base is not None and (x.nbytes != x.base.nbytes or not x.flags.c_contiguous):
            return np.array(x, order="C", copy=True)
        return x
    if x.is_contiguous() and x.untyped_storage().nbytes() == x.nbytes:
        return x
    return x.clone(memory_format=__import__("torch").contiguous_format)


def _plan(key, shape):
    """Reduce an index to the contiguous element range it touches.

    Returns (first element, end element, shape of that range, index to apply to it),
    or None when the index is not made of ints, slices and at most one Ellipsis
    (then the whole tensor is decoded and indexed)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is None for k in key) or sum(k is Ellipsis for k in key) > 1:
        return None
    for k in key:
        if not (k is Ellipsis or isinstance(k, slice) or _is_int(k)):
            return None
    # expand the Ellipsis
    if Ellipsis in [k for k in key if k is Ellipsis]:
        i = next(j for j, k in enumerate(key) if k is Ellipsis)
        fill = len(shape) - (len(key) - 1)
        if fill < 0:
            return None
        key = key[:i] + (slice(None),) * fill + key[i + 1 :]
    if len(key) > len(shape):
        return None  # too many indices: let numpy / torch raise its own error
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    offset = 0
    d = 0
    # leading integer indices narrow to one sub-tensor each
    while d < len(key) and _is_int(key[d]):
        n = shape[d]
        i = int(key[d])
        if i < 0:
            i += n
        if not 0 <= i < n:
            return None  # out of range: let the framework raise
        offset += i * strides[d]
        d += 1
    if d == len(shape):  # a single element
        return offset, offset + 1, (), ()
    if d == len(key):  # only ints: the whole sub-tensor
        sub = shape[d:]
        return offset, offset + strides[d] * shape[d], sub, ()
    # key[d] is a slice over dimension d: keep the rows it spans
    n = shape[d]
    start, stop, step = key[d].indices(n)
    r = range(start, stop, step)
    rest = key[d + 1 :]
    if not r:  # (len() overflows past 2**63 elements)
        lo = hi = 0
        new = slice(0, 0)
    else:
        lo, hi = min(r[0], r[-1]), max(r[0], r[-1]) + 1
        first = r[0] - lo
        last = r[-1] - lo
        if step > 0:
            new = slice(first, last + 1, step)
        else:
            new = slice(first, last - 1 if last - 1 >= 0 else None, step)
    sub = (hi - lo,) + tuple(shape[d + 1 :])
    return offset + lo * strides[d], offset + hi * strides[d], sub, (new,) + tuple(rest)


def _is_int(k) -> bool:
    if isinstance(k, bool):
        return False
    if isinstance(k, (int, np.integer)):
        return True
    torch = sys.modules.get("torch")  # a key cannot be a tensor unless torch is loaded: never import it here
    return (torch is not None and isinstance(k, torch.Tensor) and k.ndim == 0 and not k.is_floating_point()
            and k.dtype != torch.bool)


# -- the public entry point --------------------------------------------------------------
def zipw_path(filename):
    """The .zipw file to read for `filename`: itself when it is (or looks like a damaged)
    .zipw, its `.zipw` sibling when `filename` does not exist and the sibling does (a
    compressed-only folder); None to leave it to safetensors."""
    try:
        path = os.fspath(filename)
    except TypeError:
        return None
    if zipw_candidate(path):
        return path
    if isinstance(path, str) and not os.path.exists(path) and is_zipw_file(path + container.SUFFIX):
        return path + container.SUFFIX
    return None


def safe_open(filename, framework, device="cpu", *args, **kwargs):
    """Open a .zipw file (recognised by its magic) or a plain .safetensors file with
    the `safetensors.safe_open` surface. Keyword arguments that newer safetensors
    versions accept (`backend=` ...) are accepted; for .zipw files they are ignored,
    except `threads=` (decoding threads, default: all cores), `max_output_size=`
    (the most bytes one call may decode; None: 1 TiB) and `base=` (a delta file's base
    model: a path, an open ZipwFile or safe_open handle, or a dict of tensors; without
    it the base is looked for where the file records it). A file named *.zipw, or one
    that looks like a damaged .zipw, is read as a .zipw (its errors are ZipWeightsErrors)."""
    path = zipw_path(filename)
    if path is not None:
        return ZipwSafeOpen(path, framework, device, **kwargs)
    kwargs.pop("threads", None)
    kwargs.pop("max_output_size", None)  # a plain file is mapped, not decoded
    if kwargs.pop("base", None) is not None:
        raise InvalidArgumentError(f"{os.fspath(filename)}: a base was given, but the file is a plain safetensors file")
    try:
        try:
            handle = _ORIGINAL_SAFE_OPEN(filename, framework, device, *args, **kwargs)
        except TypeError:
            # an older safetensors that does not know a newer keyword (backend=...)
            if not kwargs:
                raise
            handle = _ORIGINAL_SAFE_OPEN(filename, framework, device, *args)
    except _SafetensorError as exc:
        if isinstance(exc, ZipWeightsError):
            raise
        # a file safetensors refuses: still a SafetensorError, and a ZipWeightsError
        raise SafetensorsAPIError(f"{os.fspath(filename)}: {exc}") from None
    if str(framework).lower() in _NUMPY_FRAMEWORKS:
        return _PlainNumpyOpen(handle, filename)
    return handle


class _PlainNumpyOpen:
    """safetensors' own numpy handle on a plain file, except for the dtypes its numpy
    path cannot return (FP8, BF16 without ml_dtypes): those come back as ml_dtypes
    arrays read from the file here."""

    def __init__(self, handle, filename):
        self._handle = handle
        self._filename = filename
        self._header = None

    def __enter__(self):
        self._handle.__enter__()
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def _read(self, name):
        if self._header is None:
            with open(self._filename, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                n = safetensors_header.read_header_size(f.read(8), size, os.fspath(self._filename))
                f.seek(0)
                self._header = safetensors_header.parse(
                    f.read(8 + n), size, os.fspath(self._filename), zipw_limits=False
                )
                self._infos = {t.name: t for t in self._header.tensors}
        info = self._infos[name]
        raw = np.empty(info.end - info.begin, np.uint8)
        with open(self._filename, "rb") as f:
            f.seek(self._header.data_start + info.begin)
            if f.readinto(memoryview(raw)) != len(raw):
                raise SafetensorsAPIError(f"{self._filename}: tensor {name!r} is truncated")
        return raw.view(numpy_dtype(info.dtype_name)).reshape(info.shape)

    def _needs_ours(self, name) -> bool:
        code = self._handle.get_slice(name).get_dtype()
        return code.startswith("F8_") or code == "BF16"

    def get_tensor(self, name):
        if self._needs_ours(name):
            self._handle.keys()  # raises "File is closed" as safetensors does
            return self._read(name)
        return self._handle.get_tensor(name)

    def get_tensors(self):
        return {k: self.get_tensor(k) for k in self._handle.offset_keys()}
