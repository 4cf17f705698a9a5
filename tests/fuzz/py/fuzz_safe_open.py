"""atheris target: zipweights.safe_open on whole files, the way users call it.

The input is written to a temporary file (a .zipw or a plain .safetensors file: safe_open
tells them apart by the magic), opened with framework="np", and every tensor is read,
whole and as a slice of its first rows; metadata() and keys() too. A plain safetensors
success is fine; any failure must be a ZipWeightsError. When the file's trailer is
well-formed but the index checksum does not match (what almost every mutation of the
index gives), the target repairs the checksum and tries again, so mutated indexes and
chunk tables reach the index parser and the chunk decoders instead of stopping at the
checksum.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import main  # noqa: E402

import xxhash  # noqa: E402

import zipweights  # noqa: E402
from zipweights.errors import ChecksumMismatchError, ZipWeightsError  # noqa: E402
from zipweights.format import container  # noqa: E402

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
_TMP = tempfile.mkdtemp(prefix="zwfuzz-", dir=_DIR)
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
_PATH = os.path.join(_TMP, "input.safetensors.zipw")


def _read_all(path: str) -> None:
    with zipweights.safe_open(path, framework="np") as f:
        f.metadata()
        for name in f.keys():
            f.get_tensor(name)
            s = f.get_slice(name)
            shape = s.get_shape()
            if shape:
                s[: max(1, shape[0] // 2)]


def _attempt(data: bytes) -> Exception | None:
    with open(_PATH, "wb") as f:
        f.write(data)
    try:
        _read_all(_PATH)
    except ZipWeightsError as exc:
        return exc
    return None


def _rehashed(data: bytes) -> bytes | None:
    """data with the trailer's index checksum recomputed, if the trailer points at an index."""
    if len(data) < container.HEADER_SIZE + container.TRAILER_SIZE:
        return None
    offset, length, _, magic = container.TRAILER.unpack(data[-container.TRAILER_SIZE :])
    if magic != container.TRAILER_MAGIC or offset + length != len(data) - container.TRAILER_SIZE:
        return None
    blob = data[offset : offset + length]
    return data[:offset] + blob + container.write_trailer(offset, length, xxhash.xxh3_64_intdigest(blob))


def TestOneInput(data: bytes) -> None:
    exc = _attempt(data)
    if isinstance(exc, ChecksumMismatchError) and "index checksum" in str(exc):
        fixed = _rehashed(data)
        if fixed is not None and fixed != data:
            _attempt(fixed)


if __name__ == "__main__":
    main(TestOneInput)
