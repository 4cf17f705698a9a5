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

import os
import sys
from typing import Dict, Optional, Union

import numpy as np

from . import dtypes
from .errors import InvalidArgumentError
from .lazy import SafetensorsAPIError, load_zipw_bytes, zipw_bytes_candidate, numpy_dtype, safe_open
from .writer import serialize_tensors, write_tensors

__all__ = ["save_file", "save", "load_file", "load", "SafetensorsAPIError"]

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
        dt = dtypes.BY_ARRAY_NAME.get(arr.dtype.name)
        if dt is None:
            raise InvalidArgumentError(f"key {name!r}: dtype {arr.dtype} is not supported by safetensors")
        a = arr if arr.flags.c_contiguous else np.array(arr, order="C")  # (ascontiguousarray makes 0-d 1-d)
        if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
            a = a.byteswap().view(a.dtype.newbyteorder("<"))
        data = memoryview(a.reshape(-1).view(np.uint8)) if a.size else memoryview(b"")
        items.append((name, dt.name, a.shape, data))
    return items


# save_file/save/load_file/load repeat the torch face's signatures on purpose:
# each face has safetensors.<framework>'s own signatures and type hints; the work is
# in writer.write_tensors / serialize_tensors and lazy, shared by both.
def save_file(
    tensor_dict: Dict[str, np.ndarray],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Optional[int] = None,
    base=None,
    base_location: Optional[Dict[str, str]] = None,
) -> None:
    """Write `tensor_dict` as a compressed .zipw file (the name is yours to choose;
    `model.safetensors.zipw` is the convention). Restores to exactly the bytes of
    `safetensors.numpy.save_file(tensor_dict, ..., metadata)`. With `base` (a path to a
    safetensors or .zipw file: the previous checkpoint, the base model), coded against
    it (see zipweights.compress_file)."""
    write_tensors(_flatten(tensor_dict), filename, metadata, level=level, threads=threads, chunk_size=chunk_size,
                  base=base, base_location=base_location)


def save(
    tensor_dict: Dict[str, np.ndarray],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Optional[int] = None,
    base=None,
    base_location: Optional[Dict[str, str]] = None,
) -> bytes:
    """The bytes of a .zipw file holding `tensor_dict` (see `save_file`)."""
    return serialize_tensors(_flatten(tensor_dict), metadata, level=level, threads=threads, chunk_size=chunk_size,
                             base=base, base_location=base_location)


# -- reading ---------------------------------------------------------------------------------
def load_file(filename: Union[str, os.PathLike], **kwargs) -> Dict[str, np.ndarray]:
    """Every tensor of a .zipw or .safetensors file, as numpy arrays (ml_dtypes for
    BF16 / FP8). Keyword arguments of newer safetensors (`backend=`) are accepted."""
    with safe_open(filename, framework="np", **kwargs) as f:
        return f.get_tensors()


def load(data: bytes, *, threads: Optional[int] = None, max_output_size: Optional[int] = None, base=None) -> Dict[str, np.ndarray]:
    """Every tensor of a .zipw or .safetensors file given as bytes. The bytes are only
    read; every array owns fresh memory."""
    if zipw_bytes_candidate(data):
        return load_zipw_bytes(data, "np", threads=threads, max_output_size=max_output_size, base=base)
    from safetensors import deserialize

    out = {}
    for name, view in deserialize(bytes(data)):
        raw = np.frombuffer(view["data"], np.uint8).copy()
        out[name] = raw.view(numpy_dtype(view["dtype"])).reshape(view["shape"])
    return out
