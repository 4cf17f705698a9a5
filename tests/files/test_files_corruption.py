"""Truncation and single-bit corruption of .zipw files.

Small real file (a few KB of bf16 MiniLM tensors, 3 chunks per tensor): every prefix
and every single-bit flip. Large real file (45 MB bf16, chunk size 256 KiB): truncation
at every chunk boundary and sampled flips. The expected error class depends on where
the damage is:

- truncation (any prefix of 8 bytes or more): TruncatedDataError (the trailer is gone);
  the empty file: BadMagicError;
- magic: BadMagicError; version: UnsupportedVersionError (or CorruptDataError for the
  flip to version 0); flags: UnsupportedFeatureError; reserved: CorruptDataError;
- chunk payload: CorruptDataError or one of its subclasses (ChecksumMismatchError when
  the decoded bytes differ), or UnsupportedFeatureError (a coder/codec id byte turned
  into an unknown one), or exactly the original bytes (a flip the coder ignores);
- index: ChecksumMismatchError (index xxh3-64 in the trailer);
- trailer: index offset/length -> CorruptDataError, hash -> ChecksumMismatchError,
  magic -> TruncatedDataError.

Never another exception type, never silently wrong output.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import zipweights
from zipweights.errors import (
    BadMagicError,
    ChecksumMismatchError,
    CorruptDataError,
    TruncatedDataError,
    UnsupportedFeatureError,
    UnsupportedVersionError,
    ZipWeightsError,
)
from zipweights.format import container

PAYLOAD_ERRORS = (CorruptDataError, UnsupportedFeatureError)


def _layout(z) -> tuple[int, int]:
    """(index offset, trailer offset)."""
    offset, length, _, _ = container.TRAILER.unpack(bytes(z[-32:]))
    return offset, offset + length


def _expected(pos: int, bit: int, index_offset: int, trailer_offset: int):
    if pos < 8:
        return (BadMagicError,)
    if pos < 10:
        return (CorruptDataError,) if (pos, bit) == (8, 0) else (UnsupportedVersionError,)
    if pos < 12:
        return (UnsupportedFeatureError,)
    if pos < 16:
        return (CorruptDataError,)
    if pos < index_offset:
        return PAYLOAD_ERRORS
    if pos < trailer_offset:
        return (ChecksumMismatchError,)
    t = pos - trailer_offset
    if t < 16:
        return (CorruptDataError,)
    if t < 24:
        return (ChecksumMismatchError,)
    return (TruncatedDataError,)


def _restore_or_raise(buf) -> bytes:
    with zipweights.ZipwFile(buf) as zf:
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=1)
    return bytes(out)


def _classify(fn):
    try:
        return fn(), None
    except ZipWeightsError as exc:
        return None, exc


# -- small file: every prefix, every bit ------------------------------------------------------
def test_small_file_has_several_chunks(small_real):
    with zipweights.ZipwFile(small_real["zipw"]) as zf:
        assert len(zf.entries) == 4 and sum(len(e.chunks) for e in zf.entries) == 12
        assert 2000 < len(small_real["zipw"]) < 8000


def test_every_prefix_of_small_file(small_real):
    z = small_real["zipw"]
    with pytest.raises(BadMagicError):
        zipweights.ZipwFile(z[:0])
    for k in range(8, len(z)):
        with pytest.raises(TruncatedDataError):
            zipweights.ZipwFile(z[:k])


def test_prefix_of_magic_is_truncated(small_real):
    z = small_real["zipw"]
    for k in range(1, 8):
        with pytest.raises(TruncatedDataError):
            zipweights.ZipwFile(z[:k])


def test_every_bit_flip_of_small_file(small_real):
    z = small_real["zipw"]
    original = small_real["st"]
    index_offset, trailer_offset = _layout(z)
    buf = bytearray(z)
    silent = 0
    for pos in range(len(buf)):
        for bit in range(8):
            buf[pos] ^= 1 << bit
            out, exc = _classify(lambda: _restore_or_raise(bytes(buf)))
            buf[pos] ^= 1 << bit
            expected = _expected(pos, bit, index_offset, trailer_offset)
            where = f"flip of bit {bit} at byte {pos} (index at {index_offset}, trailer at {trailer_offset})"
            if exc is None:
                assert expected is PAYLOAD_ERRORS, f"{where}: accepted"
                assert out == original, f"{where}: silently wrong output"
                silent += 1
            else:
                assert isinstance(exc, expected), f"{where}: {type(exc).__name__}: {exc}"
    assert bytes(buf) == z
    assert silent < 8 * (index_offset - 16) // 20  # nearly every payload flip is noticed


# -- large file: chunk boundaries and samples -----------------------------------------------
@pytest.fixture(scope="module")
def big(real_bf16_zipw):
    with open(real_bf16_zipw["zipw"], "rb") as f:
        data = f.read()
    with zipweights.ZipwFile(data) as zf:
        chunks = [(e, i) for e in zf.entries for i in range(len(e.chunks))]
        bounds = sorted({int(r["offset"]) for e in zf.entries for r in e.chunks}
                        | {int(r["offset"]) + int(r["length"]) for e in zf.entries for r in e.chunks})
    return {"data": data, "chunks": chunks, "bounds": bounds}


def test_truncation_at_every_chunk_boundary(big):
    data = memoryview(big["data"])
    index_offset, trailer_offset = _layout(data)
    cuts = set(big["bounds"]) | {16, 47, 48, index_offset + 1, trailer_offset - 1, trailer_offset,
                                 len(data) - 8, len(data) - 1}
    cuts |= set(random.Random(0).sample(range(index_offset, trailer_offset), 50))
    assert len(big["bounds"]) > 150
    for k in sorted(cuts):
        with pytest.raises(TruncatedDataError):
            zipweights.ZipwFile(data[:k])


def test_sampled_bit_flips_of_large_file(big):
    data = bytearray(big["data"])
    index_offset, trailer_offset = _layout(data)
    rng = random.Random(1)
    positions = list(range(16)) + list(range(trailer_offset, len(data)))
    positions += rng.sample(range(index_offset, trailer_offset), 40)
    for pos in positions:
        bit = rng.randrange(8)
        data[pos] ^= 1 << bit
        try:
            with pytest.raises(_expected(pos, bit, index_offset, trailer_offset)):
                zipweights.ZipwFile(data).close()
        finally:
            data[pos] ^= 1 << bit

    # payload flips: decode just the damaged chunk
    original = zipweights.ZipwFile(big["data"])
    for entry, i in rng.sample(big["chunks"], 60):
        row = entry.chunks[i]
        pos = int(row["offset"]) + rng.randrange(int(row["length"]))
        bit = rng.randrange(8)
        a, b = entry.chunk_span(i)
        want = bytearray(b - a)
        original.read_into(entry, want, threads=1, chunks=[i])
        data[pos] ^= 1 << bit
        try:
            with zipweights.ZipwFile(data) as zf:
                got = bytearray(b - a)
                try:
                    zf.read_into(entry, got, threads=1, chunks=[i])
                except PAYLOAD_ERRORS:
                    pass
                else:
                    assert got == want, f"flip at {pos}: chunk {i} of {entry.name} silently wrong"
        finally:
            data[pos] ^= 1 << bit
    original.close()


def test_threaded_restore_stops_at_a_damaged_chunk(big, tmp_path):
    # the 2-thread streaming path: a bad chunk in the middle of a many-run file raises
    # its error naming the tensor, whichever worker meets it, and leaves no output
    data = bytearray(big["data"])
    entry, i = big["chunks"][len(big["chunks"]) // 2]
    row = entry.chunks[i]
    start = int(row["offset"]) + int(row["length"]) // 2
    data[start : start + 64] = bytes(b ^ 0x5A for b in data[start : start + 64])
    src = tmp_path / "bad.safetensors.zipw"
    src.write_bytes(data)
    for check in (True, False):
        out = tmp_path / "out.safetensors"
        with pytest.raises(PAYLOAD_ERRORS, match=repr(entry.name)):
            zipweights.decompress_file(src, out, threads=2, check_sha256=check)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors.zipw"]
    with pytest.raises(PAYLOAD_ERRORS, match=repr(entry.name)):
        zipweights.verify_file(src, threads=2)


def test_threaded_restore_checks_the_sha256(big, craft, tmp_path):
    # a wrong stored sha256 (index rewritten consistently) is caught by the 2-thread path
    bad = craft.edit_index_bytes(big["data"], lambda b: b.__setitem__(8, b[8] ^ 1))
    src = tmp_path / "bad.safetensors.zipw"
    src.write_bytes(bad)
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        zipweights.decompress_file(src, tmp_path / "out.safetensors", threads=2, check_sha256=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors.zipw"]
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        zipweights.verify_file(src, threads=2)
    # without the sha256 check, every chunk still matches: the output is the original
    out = zipweights.decompress_file(src, tmp_path / "out.safetensors", threads=2, check_sha256=False)
    assert open(out, "rb").read() == _restore_or_raise(big["data"])
