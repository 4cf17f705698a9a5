"""`safetensors.torch`, compressed: save_file / save / load_file / load / save_model /
load_model. Needs torch (an optional dependency of zipweights).

    from zipweights.torch import save_file, load_file
    save_file(model.state_dict(), "model.safetensors.zipw", metadata={"format": "pt"})
    state = load_file("model.safetensors.zipw")            # also reads plain .safetensors

`save_file` writes the .zipw straight from the tensors' memory; the restored file is
byte for byte what `safetensors.torch.save_file` writes for the same dict and metadata.
"""

from __future__ import annotations  # this module is zipweights.torch; `import torch` below is the real torch

import os
from typing import Dict, List, Optional, Tuple, Union

import torch

from . import dtypes
from .errors import InvalidArgumentError
from .lazy import SafetensorsAPIError, load_zipw_bytes, zipw_bytes_candidate, safe_open
from .writer import serialize_tensors, write_tensors

__all__ = ["save_file", "save", "load_file", "load", "save_model", "load_model"]

def _code(dtype: "torch.dtype") -> str | None:
    dt = dtypes.BY_ARRAY_NAME.get(str(dtype).split(".")[-1])
    return dt.name if dt is not None else None


def _check_for_save(tensors) -> None:
    """The refusals of safetensors.torch.save_file, in its order: not a dict, not a
    tensor, sparse, shared memory, non-contiguous."""
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    sparse = []
    for k, v in tensors.items():
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected torch.Tensor but received {type(v)}")
        if v.layout != torch.strided:
            sparse.append(k)
    if sparse:
        raise ValueError(
            f"You are trying to save a sparse tensors: `{sparse}` which this library does not support."
        )
    try:
        from safetensors.torch import _find_shared_tensors
    except ImportError:  # pragma: no cover - present in every safetensors >= 0.3
        _find_shared_tensors = None
    if _find_shared_tensors is not None:
        failing = [names for names in _find_shared_tensors(tensors) if len(names) > 1]
        if failing:
            raise RuntimeError(
                f"Some tensors share memory, this will lead to duplicate memory on disk and potential "
                f"differences when loading them again: {failing}. A potential way to correctly save your "
                "model is to use `save_model`."
            )
    for k, v in tensors.items():
        if not v.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{k}` which is not allowed. "
                "Call `.contiguous()` on your tensor to pack it before saving."
            )


def _flatten(tensors) -> list:
    """[(name, code, shape, memoryview of the tensor's own memory)]; a tensor's numpy
    view, which the memoryview holds, keeps the tensor (or its CPU copy) alive."""
    _check_for_save(tensors)
    items = []
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise InvalidArgumentError(f"tensor names must be str, got {name!r}")
        code = _code(t.dtype)
        if code is None:
            raise InvalidArgumentError(f"key {name!r}: dtype {t.dtype} is not supported by safetensors")
        t = t.detach()
        if t.device.type != "cpu":
            t = t.to("cpu")
        if t.numel() == 0:
            data = memoryview(b"")
        else:
            data = memoryview(t.reshape(-1).view(torch.uint8).numpy())  # no copy
        items.append((name, code, tuple(t.shape), data))
    return items


# save_file/save/load_file/load repeat the numpy face's signatures on purpose:
# each face has safetensors.<framework>'s own signatures and type hints; the work is
# in writer.write_tensors / serialize_tensors and lazy, shared by both.
def save_file(
    tensors: Dict[str, torch.Tensor],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Optional[int] = None,
    base=None,
    base_location: Optional[Dict[str, str]] = None,
) -> None:
    """Write `tensors` as a compressed .zipw file (no uncompressed copy anywhere); with
    `base` (a path to a safetensors or .zipw file: the previous checkpoint, the base
    model), coded against it (see zipweights.compress_file)."""
    write_tensors(_flatten(tensors), filename, metadata, level=level, threads=threads, chunk_size=chunk_size,
                  base=base, base_location=base_location)


def save(
    tensors: Dict[str, torch.Tensor],
    metadata: Optional[Dict[str, str]] = None,
    *,
    level: Optional[int] = None,
    threads: Optional[int] = None,
    chunk_size: Optional[int] = None,
    base=None,
    base_location: Optional[Dict[str, str]] = None,
) -> bytes:
    """The bytes of a .zipw file holding `tensors`."""
    return serialize_tensors(_flatten(tensors), metadata, level=level, threads=threads, chunk_size=chunk_size,
                             base=base, base_location=base_location)


def load_file(
    filename: Union[str, os.PathLike], device: Union[str, int] = "cpu", **kwargs
) -> Dict[str, torch.Tensor]:
    """Every tensor of a .zipw or .safetensors file (decoded in parallel for .zipw).
    Keyword arguments of newer safetensors (`backend=`) are accepted."""
    with safe_open(filename, framework="pt", device=device, **kwargs) as f:
        if hasattr(f, "get_tensors"):
            return f.get_tensors()
        return {k: f.get_tensor(k) for k in f.keys()}  # an older safetensors


def load(data: bytes, *, threads: Optional[int] = None, max_output_size: Optional[int] = None, base=None) -> Dict[str, torch.Tensor]:
    """Every tensor of a .zipw or .safetensors file given as bytes (only read)."""
    if zipw_bytes_candidate(data):
        return load_zipw_bytes(data, "pt", threads=threads, max_output_size=max_output_size, base=base)
    import safetensors.torch as st_torch

    return st_torch.load(data if isinstance(data, bytes) else bytes(data))


def save_model(
    model: torch.nn.Module,
    filename: str,
    metadata: Optional[Dict[str, str]] = None,
    force_contiguous: bool = True,
    **write_kw,
) -> None:
    """`safetensors.torch.save_model`, compressed: shared tensors are saved once and
    the dropped names recorded in the metadata, as safetensors does."""
    from safetensors.torch import _remove_duplicate_names

    state_dict = model.state_dict()
    to_removes = _remove_duplicate_names(state_dict)
    for kept_name, to_remove_group in to_removes.items():
        for to_remove in to_remove_group:
            if metadata is None:
                metadata = {}
            if to_remove not in metadata:
                metadata[to_remove] = kept_name
            del state_dict[to_remove]
    if force_contiguous:
        state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    try:
        save_file(state_dict, filename, metadata=metadata, **write_kw)
    except ValueError as e:
        raise ValueError(
            str(e) + " Or use save_model(..., force_contiguous=True), read the docs for potential caveats."
        ) from None


def load_model(
    model: torch.nn.Module,
    filename: Union[str, os.PathLike],
    strict: bool = True,
    device: Union[str, int] = "cpu",
    **kwargs,
) -> Tuple[List[str], List[str]]:
    """`safetensors.torch.load_model` for .zipw (and plain) files."""
    from safetensors.torch import _remove_duplicate_names

    state_dict = load_file(filename, device=device, **kwargs)
    to_removes = _remove_duplicate_names(model.state_dict(), preferred_names=state_dict.keys())
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = set(missing)
    for to_remove_group in to_removes.values():
        for to_remove in to_remove_group:
            if to_remove not in missing:
                unexpected.append(to_remove)
            else:
                missing.remove(to_remove)
    if strict and (missing or unexpected):
        missing_keys = ", ".join([f'"{k}"' for k in sorted(missing)])
        unexpected_keys = ", ".join([f'"{k}"' for k in sorted(unexpected)])
        error = f"Error(s) in loading state_dict for {model.__class__.__name__}:"
        if missing:
            error += f"\n    Missing key(s) in state_dict: {missing_keys}"
        if unexpected:
            error += f"\n    Unexpected key(s) in state_dict: {unexpected_keys}"
        raise RuntimeError(error)
    return missing, unexpected


__all__ += ["SafetensorsAPIError"]
