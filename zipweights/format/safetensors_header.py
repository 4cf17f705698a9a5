"""Strict parsing of a safetensors header, by safetensors' own rules.

The header bytes are kept verbatim in a .zipw file; this module only reads them to
learn where each tensor's bytes are. Every size is checked before it is trusted.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

from .. import dtypes
from ..errors import InvalidSafetensorsError

# safetensors refuses headers above 100 MB; so do we, before reading them.
MAX_HEADER_SIZE = 100_000_000


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype_name: str  # as written in the header, even when the table does not know it
    shape: tuple[int, ...]
    begin: int  # byte offsets relative to the start of the data section
    end: int


@dataclass(frozen=True)
class SafetensorsHeader:
    header_size: int  # N, the JSON length stored in the first 8 bytes
    metadata: dict[str, str] | None
    tensors: list[TensorInfo]  # sorted by offset

    @property
    def data_start(self) -> int:
        return 8 + self.header_size


def _reject_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise InvalidSafetensorsError(f"duplicate key {key!r} in safetensors header")
        seen[key] = value
    return seen


def read_header_size(first8: bytes, file_size: int, where: str = "input") -> int:
    if len(first8) < 8 or file_size < 8:
        raise InvalidSafetensorsError(f"{where}: {file_size} bytes is too short for a safetensors file")
    (n,) = struct.unpack("<Q", first8[:8])
    if n > MAX_HEADER_SIZE:
        raise InvalidSafetensorsError(
            f"{where}: header size {n} exceeds the safetensors limit of {MAX_HEADER_SIZE} bytes"
        )
    if 8 + n > file_size:
        raise InvalidSafetensorsError(
            f"{where}: header of {n} bytes does not fit in a file of {file_size} bytes"
        )
    return n


def parse(prefix: bytes, file_size: int, where: str = "input") -> SafetensorsHeader:
    """Parse `prefix` (the first 8 + N bytes of a file of `file_size` bytes)."""
    n = read_header_size(prefix, file_size, where)
    raw = bytes(prefix[8 : 8 + n])
    if len(raw) != n:
        raise InvalidSafetensorsError(f"{where}: header truncated ({len(raw)} of {n} bytes)")
    if not raw.startswith(b"{"):
        raise InvalidSafetensorsError(f"{where}: header does not start with '{{'")
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSafetensorsError(f"{where}: header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidSafetensorsError(f"{where}: header is not a JSON object")

    metadata = obj.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise InvalidSafetensorsError(f"{where}: __metadata__ must map strings to strings")

    data_size = file_size - 8 - n
    tensors = []
    for name, info in obj.items():
        tensors.append(_tensor_info(name, info, where))
    tensors.sort(key=lambda t: (t.begin, t.end))

    expected = 0
    for t in tensors:
        if t.begin != expected:
            raise InvalidSafetensorsError(
                f"{where}: tensor {t.name!r} starts at data offset {t.begin}, expected {expected} "
                "(offsets must be contiguous, without holes or overlaps)"
            )
        expected = t.end
    if expected != data_size:
        raise InvalidSafetensorsError(
            f"{where}: tensors cover {expected} bytes but the data section holds {data_size}"
        )
    return SafetensorsHeader(n, metadata, tensors)


def _tensor_info(name: str, info, where: str) -> TensorInfo:
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise InvalidSafetensorsError(
            f"{where}: tensor {name!r} must have exactly dtype, shape and data_offsets"
        )
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str):
        raise InvalidSafetensorsError(f"{where}: tensor {name!r} has a non-string dtype")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidSafetensorsError(f"{where}: tensor {name!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise InvalidSafetensorsError(f"{where}: tensor {name!r} has invalid data_offsets {offsets!r}")
    numel = 1
    for d in shape:
        numel *= d
    dt = dtypes.from_name(dtype_name)
    if dt is not dtypes.OPAQUE:
        nbytes = dt.nbytes(numel)
        if nbytes is None or nbytes != offsets[1] - offsets[0]:
            raise InvalidSafetensorsError(
                f"{where}: tensor {name!r} ({dtype_name} {shape}) needs "
                f"{numel * dt.bits / 8:g} bytes but data_offsets span {offsets[1] - offsets[0]}"
            )
    return TensorInfo(name, dtype_name, tuple(shape), offsets[0], offsets[1])


def build(tensors: list[tuple[str, str, tuple[int, ...], int]], metadata: dict | None) -> bytes:
    """The 8 + N prefix safetensors itself would write for tensors given in order as
    (name, dtype name, shape, nbytes): compact JSON, padded with spaces to 8 bytes."""
    obj = {}
    if metadata is not None:
        obj["__metadata__"] = metadata
    offset = 0
    for name, dtype_name, shape, nbytes in tensors:
        obj[name] = {"dtype": dtype_name, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw
