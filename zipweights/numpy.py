"""`safetensors.numpy`, compressed: save_file / save / load_file / load.

    from zipweights.numpy import save_file, load_file
    save_file({"w": w}, "weights.safetensors.zipw", metadata={"format": "np"})
    tensors = load_file("weights.safetensors.zipw")       # also reads plain .safetensors

`save_file` writes the .zipw directly from the arrays (no uncompressed copy on disk or
in memory); the file it restores to is byte for byte what `safetensors.numpy.save_file`
writes for the same dict and metadata (tensor order, header JSON, padding). BF16 and
FP8 tensors come back as ml_dtypes arrays where safetensors raises.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
from typing import Dict, Optional, Union

import numpy as np

from . import dtypes as zdtypes
from ._fileio import atomic_output
from .errors import InvalidArgumentError, LimitExceededError
from .format import index as fmt_index, limits
from .lazy import DTYPE_CODES, SafetensorsAPIError, load_zipw_bytes, zipw_bytes_candidate, numpy_dtype, safe_open
from .writer import Source, SourceEntry, write

__all__ = ["save_file", "save", "load_file", "load", "SafetensorsAPIError"]

# safetensors' Dtype enum order (safetensors/src/tensor.rs): the serializer sorts
# tensors by this rank, descending, then by name.
_DTYPE_RANK = {
    code: i
    for i, code in enumerate(
        "BOOL F4 F6_E2M3 F6_E3M2 U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 F8_E4M3FNUZ F8_E5M2FNUZ "
        "I16 U16 F16 BF16 I32 U32 F32 C64 F64 I64 U64".split()
    )
}

# -- writing (shared with zipweights.torch) ------------------------------------------------
def build_prefix(items, metadata) -> bytes:
    """The 8 + N bytes safetensors writes for `items` [(name, code, shape, nbytes)],
    already in file order: compact JSON as serde_json writes it (UTF-8, not escaped),
    `__metadata__` first, padded with spaces to a multiple of 8."""
    obj = {}
    if metadata is not None:
        obj["__metadata__"] = metadata
    offset = 0
    for name, code, shape, nbytes in items:
        obj[name] = {"dtype": code, "shape": [int(d) for d in shape], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def _check_text(s: str, what: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"{what} {s!r} is not valid Unicode (a lone surrogate)") from None


def check_metadata(metadata) -> Optional[dict]:
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


def order_items(items):
    """safetensors' order: dtype rank descending, then name (byte order of UTF-8,
    which is code point order)."""
    return sorted(items, key=lambda it: (-_DTYPE_RANK.get(it[1], -1), it[0]))


def make_source(items, metadata):
    """A writer Source over [(name, code, shape, memoryview)] (not yet ordered)."""
    items = order_items(items)
    for n, _, s, _ in items:
        _check_text(n, "tensor name")
        if n == "__metadata__":
            raise InvalidArgumentError("a tensor cannot be named __metadata__ (the header's metadata key)")
        limits.check_ndim(len(s), f"tensor {n!r}")
    limits.check_entry_count(len(items), "the tensors")
    prefix = build_prefix([(n, c, s, len(d)) for n, c, s, d in items], check_metadata(metadata))
    if len(prefix) - 8 > limits.MAX_HEADER_SIZE:
        raise LimitExceededError(
            f"the safetensors header would be {len(prefix) - 8} bytes, more than {limits.MAX_HEADER_SIZE}"
        )
    entries = [
        SourceEntry(fmt_index.KIND_TENSOR, n, zdtypes.from_name(c), tuple(int(x) for x in s), d)
        for n, c, s, d in items
    ]
    return Source(fmt_index.SOURCE_SAFETENSORS, prefix, entries)


def _write_kw(level, threads, chunk_size) -> dict:
    """The writer options the caller set (None leaves the writer's default)."""
    kw = {"level": level, "threads": threads, "chunk_size": chunk_size}
    return {k: v for k, v in kw.items() if v is not None}


def write_items(items, filename, metadata, *, level=None, threads=None, chunk_size=None) -> None:
    """save_file: `items` [(name, code, shape, memoryview)] compressed into `filename`
    (overwritten, as safetensors overwrites; complete or absent)."""
    source = make_source(items, metadata)
    with atomic_output(os.fspath(filename), force=True) as out:
        write(source, out, **_write_kw(level, threads, chunk_size))


def serialize_items(items, metadata, *, level=None, threads=None, chunk_size=None) -> bytes:
    """save: the bytes of the .zipw file `write_items` would write."""
    out = io.BytesIO()
    write(make_source(items, metadata), out, **_write_kw(level, threads, chunk_size))
    return out.getvalue()


# -- numpy -------------------------------------------------------------------------------------
def _flatten(tensor_dict) -> list:
    """[(name, code, shape, memoryview)] of the arrays, little-endian and C-ordered
    (copies only where they are not); each memoryview keeps its array alive."""
    if not isinstance(tensor_dict, dict):
        raise InvalidArgumentError(f"expected a dict of str to numpy arrays, got {type(tensor_dict).__name__}")
    items = []
    for name, arr in tensor_dict.items():
        if not isinstance(name, str):
            raise InvalidArgumentError(f"tensor names must be str, got {name!r}")
        if not isinstance(arr, np.ndarray):
            raise InvalidArgumentError(f"key {name!r}: expected a numpy array, got {type(arr).__name__}")
        code = DTYPE_CODES.get(arr.dtype.name)
        if code is None:
            raise InvalidArgumentError(f"key {name!r}: dtype {arr.dtype} is not supported by safetensors")
        a = arr if arr.flags.c_contiguous else np.array(arr, order="C")  # (ascontiguousarray makes 0-d 1-d)
        if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
            a = a.byteswap().view(a.dtype.newbyteorder("<"))
        data = memoryview(a.reshape(-1).view(np.uint8)) if a.size else memoryview(b"")
        items.append((name, code, a.shape, data))
    return items


def save_file(
    tensor_dict: Dict[str, np.ndarray],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Optional[int] = None,
) -> None:
    """Write `tensor_dict` as a compressed .zipw file (the name is yours to choose;
    `model.safetensors.zipw` is the convention). Restores to exactly the bytes of
    `safetensors.numpy.save_file(tensor_dict, ..., metadata)`."""
    write_items(_flatten(tensor_dict), filename, metadata, level=level, threads=threads, chunk_size=chunk_size)


def save(
    tensor_dict: Dict[str, np.ndarray],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Optional[int] = None,
) -> bytes:
    """The bytes of a .zipw file holding `tensor_dict` (see `save_file`)."""
    return serialize_items(_flatten(tensor_dict), metadata, level=level, threads=threads, chunk_size=chunk_size)


# -- reading ---------------------------------------------------------------------------------
def load_file(filename: Union[str, os.PathLike], **kwargs) -> Dict[str, np.ndarray]:
    """Every tensor of a .zipw or .safetensors file, as numpy arrays (ml_dtypes for
    BF16 / FP8). Keyword arguments of newer safetensors (`backend=`) are accepted."""
    with safe_open(filename, framework="np", **kwargs) as f:
        return f.get_tensors()


def load(data: bytes, *, threads: Optional[int] = None, max_output_size: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Every tensor of a .zipw or .safetensors file given as bytes. The bytes are only
    read; every array owns fresh memory."""
    if zipw_bytes_candidate(data):
        return load_zipw_bytes(data, "np", threads=threads, max_output_size=max_output_size)
    from safetensors import deserialize

    out = {}
    for name, view in deserialize(bytes(data)):
        raw = np.frombuffer(view["data"], np.uint8).copy()
        out[name] = raw.view(numpy_dtype(view["dtype"])).reshape(view["shape"])
    return out
