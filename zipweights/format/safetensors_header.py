"""Strict parsing of a safetensors header, by safetensors' own rules.

The header bytes are kept verbatim in a .zipw file; this module only reads them to
learn where each tensor's bytes are. Every size is checked before it is trusted.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import InvalidSafetensorsError
from .limits import MAX_DIM, MAX_HEADER_SIZE, MAX_JSON_DEPTH, check_safetensors_header_limits

_DEPTH_BLOCK = 1 << 22
_MAX_INT_DIGITS = len(str(MAX_DIM))


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


def _parse_int(text: str) -> int:
    # safetensors reads every number as a u64; longer digit strings are out of range
    # (and Python refuses to convert above 4,300 digits with a ValueError of its own)
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or int(text) > MAX_DIM:
        raise InvalidSafetensorsError(f"number {text[:24]}{'...' if len(text) > 24 else ''} is out of range (> 2**64 - 1)")
    return int(text)


def _parse_constant(text: str):
    raise InvalidSafetensorsError(f"{text} is not JSON")


def _json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text `raw` (strings skipped),
    found in linear time and bounded memory without recursion (the parser recurses
    once per level). Escaped backslashes, then escaped quotes, are dropped first
    (bytes.replace pairs backslashes from the left of each run, as JSON escapes do),
    so every quote left opens or closes a string; exact for valid JSON and for the
    valid prefix of invalid JSON, which is all the parser reads before it stops."""
    b = np.frombuffer(raw.replace(b"\\\\", b"").replace(b'\\"', b""), np.uint8)
    inside, depth, deepest = 0, 0, 0  # carried from block to block
    for a in range(0, len(b), _DEPTH_BLOCK):
        block = b[a : a + _DEPTH_BLOCK]
        # parity of the quotes up to each byte (a uint8 sum wraps, keeping its parity)
        outside = ((np.cumsum(block == 0x22, dtype=np.uint8) + inside) & 1) == 0
        step = ((block == 0x5B) | (block == 0x7B)).astype(np.int32) - ((block == 0x5D) | (block == 0x7D))
        levels = np.cumsum(step * outside) + depth
        deepest = max(deepest, int(levels.max()))
        depth, inside = int(levels[-1]), int(not outside[-1])
    return deepest


def _check_text(s: str, what: str) -> None:
    """safetensors (serde_json) refuses escapes of lone UTF-16 surrogates."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSafetensorsError(f"{what} {s!r} holds a lone surrogate escape (not UTF-8)") from None


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


def parse(prefix: bytes, file_size: int, where: str = "input", *, zipw_limits: bool = True) -> SafetensorsHeader:
    """Parse `prefix` (the first 8 + N bytes of a file of `file_size` bytes) by
    safetensors' rules (InvalidSafetensorsError), and with `zipw_limits` by this
    format's limits too (LimitExceededError, `check_safetensors_header_limits`)."""
    n = read_header_size(prefix, file_size, where)
    raw = bytes(prefix[8 : 8 + n])
    if len(raw) != n:
        raise InvalidSafetensorsError(f"{where}: header truncated ({len(raw)} of {n} bytes)")
    if not raw.startswith(b"{"):
        raise InvalidSafetensorsError(f"{where}: header does not start with '{{'")
    depth = _json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise InvalidSafetensorsError(
            f"{where}: header JSON nests {depth} levels deep; a safetensors header has at most {MAX_JSON_DEPTH}"
        )
    try:
        obj = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_int=_parse_int,
            parse_constant=_parse_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSafetensorsError(f"{where}: header is not valid UTF-8 JSON: {exc}") from None
    except RecursionError:  # not reached after the depth check; never let it out
        raise InvalidSafetensorsError(f"{where}: header JSON nests too deeply") from None
    except InvalidSafetensorsError as exc:
        raise InvalidSafetensorsError(f"{where}: header JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidSafetensorsError(f"{where}: header is not a JSON object")

    metadata = obj.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise InvalidSafetensorsError(f"{where}: __metadata__ must map strings to strings")
        for k, v in metadata.items():
            _check_text(k, f"{where}: __metadata__ key")
            _check_text(v, f"{where}: __metadata__ value")

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
    header = SafetensorsHeader(n, metadata, tensors)
    if zipw_limits:
        check_safetensors_header_limits(header, where)
    return header


def _tensor_info(name: str, info, where: str) -> TensorInfo:
    _check_text(name, f"{where}: tensor name")
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise InvalidSafetensorsError(
            f"{where}: tensor {name!r} must have exactly dtype, shape and data_offsets"
        )
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str):
        raise InvalidSafetensorsError(f"{where}: tensor {name!r} has a non-string dtype")
    _check_text(dtype_name, f"{where}: tensor {name!r} dtype")
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
    for d in shape:  # in order, as safetensors multiplies (checked, in a u64)
        numel *= d
        if numel > MAX_DIM:
            raise InvalidSafetensorsError(f"{where}: tensor {name!r}: the product of shape {shape} overflows 2**64")
    # dtypes the format stores as OPAQUE (FNUZ float8) must still match their bytes, as
    # safetensors checks; names the table does not know are taken as they come
    dt = dtypes.SAFETENSORS.get(dtype_name)
    bits = dt.bits if dt is not None else None
    if bits is not None:
        if numel * bits > MAX_DIM:
            raise InvalidSafetensorsError(
                f"{where}: tensor {name!r}: {dtype_name} {shape} holds more than 2**64 bits"
            )
        if numel * bits % 8 or numel * bits // 8 != offsets[1] - offsets[0]:
            raise InvalidSafetensorsError(
                f"{where}: tensor {name!r} ({dtype_name} {shape}) needs "
                f"{numel * bits / 8:g} bytes but data_offsets span {offsets[1] - offsets[0]}"
            )
    return TensorInfo(name, dtype_name, tuple(shape), offsets[0], offsets[1])


def build(tensors: list[tuple[str, str, tuple[int, ...], int]], metadata: dict | None) -> bytes:
    """The 8 + N prefix safetensors itself would write for tensors given in file order
    as (name, dtype name, shape, nbytes): compact JSON as serde_json writes it (UTF-8,
    not escaped), `__metadata__` first, padded with spaces to a multiple of 8."""
    obj = {}
    if metadata is not None:
        obj["__metadata__"] = metadata
    offset = 0
    for name, dtype_name, shape, nbytes in tensors:
        obj[name] = {"dtype": dtype_name, "shape": [int(d) for d in shape], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw
