"""Hostile inputs (issue #11): files built to make the reader allocate, loop, crash or
raise something other than a ZipWeightsError. Every file here is a valid container
built with the format modules (an Index encoded by format.index, a real trailer),
changed in the one way under test; each test fails on a reader without the check.

- bombs: chunk tables whose payloads repeat or overlap (spec 5.2, in-order tiling);
- declared sizes beyond the caller's `max_output_size` (spec 8), refused before any
  allocation or decoding (counted with the progress callback, not timed);
- safetensors headers that broke the parser (numbers, surrogates, nesting, dims);
- a ZSTD stream with bytes after its frame (spec 7.3);
- safe_open of cut or damaged .zipw files.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tracemalloc

import numpy as np
import pytest
import xxhash
import zstandard

import zipweights
from zipweights import dtypes
from zipweights.codec import chain, entropy
from zipweights.errors import (
    BadMagicError,
    CorruptDataError,
    InvalidArgumentError,
    InvalidSafetensorsError,
    LimitExceededError,
    TruncatedDataError,
    ZipWeightsError,
)
from zipweights.format import container, index as fmt_index, limits, safetensors_header as sth

U8 = dtypes.BY_NAME["U8"]
F32 = dtypes.BY_NAME["F32"]


# -- building containers ---------------------------------------------------------------
def rows_for(lengths, codec=chain.STORE, checksums=None, offsets=None) -> np.ndarray:
    """Chunk rows for payloads of `lengths` bytes, laid out one after the other from
    the file header on (as the writer lays them out) unless `offsets` are given."""
    lengths = np.asarray(lengths, np.uint64)
    r = np.zeros(len(lengths), fmt_index.CHUNK_ROW)
    r["length"] = lengths
    r["codec"] = codec
    if offsets is None:
        offsets = container.HEADER_SIZE + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.uint64)
    r["offset"] = offsets
    if checksums is not None:
        r["checksum"] = checksums
    return r


def build(prefix: bytes, source_kind: int, entries, payloads: bytes, sha: bytes = bytes(32)) -> bytes:
    """A .zipw: file header, `payloads`, the index of `entries` (offsets filled in so
    that they tile the original after `prefix`), the trailer."""
    offset = len(prefix)
    for e in entries:
        e.offset = offset
        offset += e.length
    blob = fmt_index.encode(fmt_index.Index(offset, sha, source_kind, prefix, entries))
    body = container.write_header() + payloads
    return body + blob + container.write_trailer(len(body), len(blob), xxhash.xxh3_64_intdigest(blob))


def blob_entry(length, chunk_size, rows, dtype=U8):
    return fmt_index.Entry(fmt_index.KIND_BLOB, "", dtype, (length // dtype.unit,), 0, length, chunk_size, rows)


def write(tmp_path, name, data) -> str:
    p = os.path.join(tmp_path, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def st_file(header: dict | str, data: bytes = b"") -> bytes:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


# -- 1. bombs: one payload, many chunks ----------------------------------------------------
K, C = 64, 1 << 16  # 64 chunks of 64 KiB zeros: 4 MiB declared


@pytest.fixture(scope="module")
def zero_chunk():
    codec, payload = chain.encode_chunk(bytes(C), U8, chain.Level.of(chain.DEFAULT_LEVEL))
    assert codec != chain.STORE and len(payload) < 100
    return codec, payload, xxhash.xxh3_64_intdigest(bytes(C))


def _zeros_file(zero_chunk, offsets=None) -> bytes:
    codec, payload, checksum = zero_chunk
    rows = rows_for([len(payload)] * K, codec, checksum, offsets)
    payloads = payload if offsets is not None else payload * K
    return build(b"", fmt_index.SOURCE_RAW, [blob_entry(K * C, C, rows)], payloads,
                 hashlib.sha256(bytes(K * C)).digest())


def test_honest_zeros_file_decodes(zero_chunk):
    # the rows of the bomb below are valid: laid out one after the other, they decode
    z = _zeros_file(zero_chunk)
    with zipweights.ZipwFile(z) as zf:
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=1)
    assert hashlib.sha256(out).digest() == hashlib.sha256(bytes(K * C)).digest()


def test_bomb_every_chunk_on_one_payload_is_corrupt(zero_chunk):
    bomb = _zeros_file(zero_chunk, offsets=[container.HEADER_SIZE] * K)
    assert len(bomb) * 1000 < K * C  # the file is that much smaller than what it declares
    with pytest.raises(CorruptDataError, match="chunk 1: payload at offset 16, expected"):
        zipweights.ZipwFile(bomb)


def _three_chunks(edit):
    """A blob of three 64-byte STORE chunks with its rows (and payload bytes) passed
    through edit(rows, payloads) -> payloads."""
    data = bytes(range(192))
    sums = [xxhash.xxh3_64_intdigest(data[i : i + 64]) for i in (0, 64, 128)]
    rows = rows_for([64, 64, 64], chain.STORE, sums)
    payloads = edit(rows, data)
    return build(b"", fmt_index.SOURCE_RAW, [blob_entry(192, 64, rows)], payloads, hashlib.sha256(data).digest())


def _same(rows, data):
    return data


def _repeat(rows, data):
    rows["offset"][1] = rows["offset"][0]
    return data


def _overlap(rows, data):
    rows["offset"][1] -= 1
    return data


def _swap(rows, data):
    rows["offset"][[0, 1]] = rows["offset"][[1, 0]]
    return data[64:128] + data[:64] + data[128:]


def _gap(rows, data):
    rows["offset"][1:] += 1
    return data[:64] + b"\x00" + data[64:]


def _space_before_index(rows, data):
    return data + b"\x00"


def test_three_chunks_decode():
    with zipweights.ZipwFile(_three_chunks(_same)) as zf:
        out = bytearray(192)
        zf.restore_into(out, threads=1)
    assert bytes(out) == bytes(range(192))


@pytest.mark.parametrize(
    "edit, message",
    [
        (_repeat, "chunk 1: payload at offset 16, expected 80"),
        (_overlap, "chunk 1: payload at offset 79, expected 80"),
        (_swap, "chunk 0: payload at offset 80, expected 16"),
        (_gap, "chunk 1: payload at offset 81, expected 80"),
        (_space_before_index, "chunk payloads end at offset 208, but the index starts at 209"),
    ],
)
def test_payloads_tile_the_payload_area_in_order(edit, message):
    # spec 5.2: payloads follow each other in entry and chunk order, no gaps, no overlaps
    with pytest.raises(CorruptDataError, match=message):
        zipweights.ZipwFile(_three_chunks(edit))


def test_no_chunks_means_no_payload_bytes():
    z = build(b"", fmt_index.SOURCE_RAW, [blob_entry(0, 64, rows_for([]))], b"\x00", hashlib.sha256(b"").digest())
    with pytest.raises(CorruptDataError, match="payloads end at offset 16, but the index starts at 17"):
        zipweights.ZipwFile(z)


def test_stream_buffers_bounded_by_declared_output():
    # verify of a file declaring 192 bytes must not allocate a megabyte of buffers
    z = _three_chunks(_same)
    with zipweights.ZipwFile(z) as zf:
        tracemalloc.start()
        try:
            zf.verify(threads=1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 64 * 1024, peak


# -- 2. declared sizes beyond max_output_size ------------------------------------------------
BIG_K = limits.DEFAULT_MAX_OUTPUT_SIZE // limits.MAX_CHUNK_SIZE + 1  # just over 1 TiB in 64 MiB chunks


@pytest.fixture(scope="module")
def terabyte_file(tmp_path_factory):
    """A 400 KB safetensors-kind .zipw that declares one U8 tensor of just over 1 TiB
    (each chunk a 1-byte payload, laid out as the spec requires)."""
    n = BIG_K * limits.MAX_CHUNK_SIZE
    prefix = sth.build([("w", "U8", (n,), n)], None)
    rows = rows_for([1] * BIG_K)
    entry = fmt_index.Entry(fmt_index.KIND_TENSOR, "w", U8, (n,), 0, n, limits.MAX_CHUNK_SIZE, rows)
    z = build(prefix, fmt_index.SOURCE_SAFETENSORS, [entry], bytes(BIG_K))
    assert len(z) < 500_000
    return write(tmp_path_factory.mktemp("tb"), "big.safetensors.zipw", z)


def test_terabyte_file_opens(terabyte_file):
    with zipweights.ZipwFile(terabyte_file) as zf:  # the index is valid; only decoding is refused
        assert zf.original_size > limits.DEFAULT_MAX_OUTPUT_SIZE


def test_terabyte_verify_refused_before_decoding(terabyte_file):
    done = []
    with zipweights.ZipwFile(terabyte_file) as zf:
        with pytest.raises(LimitExceededError, match="more than max_output_size"):
            zf.verify(threads=1, progress=done.append)
    assert done == []  # not one chunk decoded
    with pytest.raises(LimitExceededError):
        zipweights.verify_file(terabyte_file, progress=done.append)
    assert done == []


def test_terabyte_decompress_refused_before_output(terabyte_file, tmp_path):
    out = str(tmp_path / "out.safetensors")
    with pytest.raises(LimitExceededError, match="the original file is"):
        zipweights.decompress_file(terabyte_file, out)
    assert os.listdir(tmp_path) == []


def test_terabyte_get_tensor_refused_before_allocating(terabyte_file):
    from zipweights.numpy import load_file

    with zipweights.safe_open(terabyte_file, "np") as f:
        with pytest.raises(LimitExceededError, match="tensor 'w' is"):
            f.get_tensor("w")
    with pytest.raises(LimitExceededError):
        load_file(terabyte_file)


def test_terabyte_limit_is_the_callers(terabyte_file):
    # a larger limit lets the decoder go on, to the first chunk (whose 1 byte is not 64 MiB)
    with zipweights.ZipwFile(terabyte_file, max_output_size=1 << 41) as zf:
        with pytest.raises(CorruptDataError, match="stored chunk holds 1 bytes"):
            zf.verify(threads=1)


@pytest.fixture(scope="module")
def two_tensor_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("limit")
    big = np.arange(1024, dtype=np.float32)
    small = np.arange(4, dtype=np.float32)
    prefix = sth.build([("big", "F32", (1024,), 4096), ("small", "F32", (4,), 16)], None)
    st = prefix + big.tobytes() + small.tobytes()
    path = write(d, "two.safetensors", st)
    zipweights.compress_file(path, chunk_size=64, threads=1)
    return path + ".zipw", st


def test_safe_open_limit_bounds_each_allocation(two_tensor_file):
    z, st = two_tensor_file
    with zipweights.safe_open(z, "np", max_output_size=100) as f:
        assert f.get_tensor("small").tobytes() == np.arange(4, dtype=np.float32).tobytes()
        assert f.get_slice("big")[:16].tobytes() == np.arange(16, dtype=np.float32).tobytes()  # one chunk
        with pytest.raises(LimitExceededError, match="tensor 'big' is 4096 bytes"):
            f.get_tensor("big")
        with pytest.raises(LimitExceededError, match="a slice of tensor 'big'"):
            f.get_slice("big")[:32]  # two chunks: 128 bytes
        with pytest.raises(LimitExceededError, match="all tensors together"):
            f.get_tensors()


def test_whole_file_limits(two_tensor_file, tmp_path):
    from zipweights.numpy import load
    from zipweights.torch import load_file as torch_load_file

    z, st = two_tensor_file
    with pytest.raises(LimitExceededError):
        zipweights.verify_file(z, max_output_size=len(st) - 1)
    zipweights.verify_file(z, max_output_size=len(st))
    out = str(tmp_path / "back.safetensors")
    with pytest.raises(LimitExceededError):
        zipweights.decompress_file(z, out, max_output_size=len(st) - 1)
    assert not os.path.exists(out)
    zipweights.decompress_file(z, out, max_output_size=len(st))
    assert open(out, "rb").read() == st
    with pytest.raises(LimitExceededError):
        load(open(z, "rb").read(), max_output_size=4111)
    assert load(open(z, "rb").read(), max_output_size=4112)["small"].tobytes() == st[-16:]
    with pytest.raises(LimitExceededError):
        torch_load_file(z, max_output_size=100)


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True])
def test_max_output_size_must_be_a_byte_count(two_tensor_file, bad):
    with pytest.raises(InvalidArgumentError, match="max_output_size"):
        zipweights.ZipwFile(two_tensor_file[0], max_output_size=bad)


def test_entry_count_over_the_limit(craft):
    z = build(b"", fmt_index.SOURCE_RAW, [blob_entry(0, 64, rows_for([]))], b"")
    _, blob, _ = craft.split(z)
    bad = craft.edit_index_bytes(z, lambda b: b.__setitem__(slice(56, 60), struct.pack("<I", limits.MAX_ENTRIES + 1)))
    with pytest.raises(LimitExceededError, match=f"{limits.MAX_ENTRIES + 1} entries exceed"):
        zipweights.ZipwFile(bad)


def test_tensor_names_are_unique():
    def tensor(name):
        return fmt_index.Entry(fmt_index.KIND_TENSOR, name, U8, (0,), 0, 0, 64, rows_for([]))

    z = build(b"", fmt_index.SOURCE_RAW, [tensor("a"), tensor("b")], b"")
    zipweights.ZipwFile(z).close()
    z = build(b"", fmt_index.SOURCE_RAW, [tensor("a"), tensor("a")], b"")
    with pytest.raises(CorruptDataError, match=r"entry 1 \('a'\): a tensor of that name is listed twice"):
        zipweights.ZipwFile(z)


# -- 3. the safetensors header: what broke the parser --------------------------------------
def _one(shape, dtype="F32", nbytes=0, name="a"):
    return {name: {"dtype": dtype, "shape": shape, "data_offsets": [0, nbytes]}}


HOSTILE_HEADERS = {
    "dim 2**64": (st_file(_one([2**64, 0])), InvalidSafetensorsError, "out of range"),
    "product overflows": (st_file(_one([2**63, 2, 0])), InvalidSafetensorsError, "overflows 2\\*\\*64"),
    "bits overflow": (st_file(_one([2**62])), InvalidSafetensorsError, "more than 2\\*\\*64 bits"),
    "5000 digits": (st_file('{"a":{"dtype":"F32","shape":[' + "1" * 5000 + '],"data_offsets":[0,0]}}'),
                    InvalidSafetensorsError, "out of range"),
    "5000 digits in metadata": (st_file('{"__metadata__":{"x":' + "9" * 5000 + "}}"),
                                InvalidSafetensorsError, "out of range"),
    "lone surrogate key": (st_file('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
                           InvalidSafetensorsError, "lone surrogate"),
    "lone surrogate metadata": (st_file('{"__metadata__":{"k":"\\udc00"}}'), InvalidSafetensorsError,
                                "lone surrogate"),
    "nested 100000 deep": (st_file('{"__metadata__":' + "[" * 100_000 + "]" * 100_000 + "}"),
                           InvalidSafetensorsError, "nests 100001 levels deep"),
    "NaN": (st_file('{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,0]}}'), InvalidSafetensorsError,
            "NaN is not JSON"),
    "FNUZ shape != bytes": (st_file(_one([3], "F8_E4M3FNUZ", 5), bytes(5)), InvalidSafetensorsError,
                            "needs 3 bytes but data_offsets span 5"),
    "300 dims": (st_file(_one([1] * 300, "F32", 4), bytes(4)), LimitExceededError, "300 dimensions exceed 64"),
    "65 dims": (st_file(_one([1] * 65, "F32", 4), bytes(4)), LimitExceededError, "65 dimensions exceed 64"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_HEADERS))
def test_compress_refuses_hostile_header(case, tmp_path):
    st, cls, message = HOSTILE_HEADERS[case]
    src = write(tmp_path, "x.safetensors", st)
    with pytest.raises(cls, match=message):
        zipweights.compress_file(src, threads=1)
    assert os.listdir(tmp_path) == ["x.safetensors"]


@pytest.mark.parametrize(
    "header",
    [
        _one([2**64 - 1, 0]),  # the largest u64 dimension, as safetensors accepts it
        _one([1] * 64, "F32", 4),  # 64 dimensions: the limit itself
        _one([0, 2**63, 2]),  # the product is taken in order: zero first, no overflow
        {"\ud83d\ude00": _one([0])["a"]},  # a surrogate pair is one character
    ],
)
def test_compress_accepts_boundary_header(header, tmp_path):
    st = st_file(header, bytes(_one_nbytes(header)))
    src = write(tmp_path, "x.safetensors", st)
    zipweights.compress_file(src, threads=1)
    zipweights.decompress_file(src + ".zipw", str(tmp_path / "back"))
    assert open(tmp_path / "back", "rb").read() == st


def _one_nbytes(header):
    (info,) = header.values()
    return info["data_offsets"][1]


def _header_only_zipw(prefix: bytes) -> bytes:
    return build(prefix, fmt_index.SOURCE_SAFETENSORS, [], b"", hashlib.sha256(prefix).digest())


@pytest.mark.parametrize(
    "header, message",
    [
        ('{"__metadata__":' + "[" * 100_000 + "]" * 100_000 + "}", "nests 100001 levels deep"),
        ('{"__metadata__":{"x":' + "9" * 5000 + "}}", "out of range"),
        ('{"__metadata__":{"\\ud800":"x"}}', "lone surrogate"),
    ],
)
def test_kept_header_hostile_is_corrupt(header, message, tmp_path):
    z = _header_only_zipw(st_file(header))
    with pytest.raises(CorruptDataError, match=message):
        zipweights.ZipwFile(z)
    path = write(tmp_path, "h.safetensors.zipw", z)
    with pytest.raises(CorruptDataError, match=message):
        zipweights.safe_open(path, "np")


def test_fnuz_shape_mismatch_written_by_old_writer(tmp_path):
    # what an earlier writer wrote for an F8_E4M3FNUZ tensor of shape [3] over 5 bytes
    data = bytes([1, 2, 3, 4, 5])
    prefix = st_file(_one([3], "F8_E4M3FNUZ", 5))
    rows = rows_for([5], chain.STORE, [xxhash.xxh3_64_intdigest(data)])
    entry = fmt_index.Entry(fmt_index.KIND_TENSOR, "a", dtypes.OPAQUE, (3,), 0, 5, 64, rows)
    z = build(prefix, fmt_index.SOURCE_SAFETENSORS, [entry], data, hashlib.sha256(prefix + data).digest())
    path = write(tmp_path, "f.safetensors.zipw", z)
    with pytest.raises(CorruptDataError, match="needs 3 bytes but data_offsets span 5"):
        with zipweights.safe_open(path, "np") as f:
            f.get_tensor("a")


def test_index_with_65_dims_is_refused(craft):
    shape = (1,) * 63 + (4,)
    entry = fmt_index.Entry(fmt_index.KIND_BLOB, "", U8, shape, 0, 4, 64, rows_for([4], checksums=[0]))
    z = build(b"", fmt_index.SOURCE_RAW, [entry], bytes(4))
    _, blob, _ = craft.split(z)
    (e,) = craft.entry_fields(blob)

    def add_dim(b):
        b[e["ndim"]] = 65
        b[e["shape"] : e["shape"]] = struct.pack("<Q", 1)

    with pytest.raises(LimitExceededError, match="65 dimensions exceed 64"):
        zipweights.ZipwFile(craft.edit_index_bytes(z, add_dim))


def test_index_encoder_refuses_what_the_reader_refuses():
    entry = fmt_index.Entry(fmt_index.KIND_BLOB, "", U8, (1,) * 65, 0, 1, 64, rows_for([1]))
    with pytest.raises(LimitExceededError, match="65 dimensions exceed 64"):
        fmt_index.encode(fmt_index.Index(1, bytes(32), 0, b"", [entry]))


def test_save_file_refuses_what_it_could_not_read_back(tmp_path):
    from zipweights.numpy import save_file

    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        save_file({"\ud800": np.zeros(2, np.float32)}, str(tmp_path / "a.zipw"))
    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        save_file({"a": np.zeros(2, np.float32)}, str(tmp_path / "b.zipw"), metadata={"k": "\udfff"})
    with pytest.raises(InvalidArgumentError, match="__metadata__"):
        save_file({"__metadata__": np.zeros(2, np.float32)}, str(tmp_path / "c.zipw"))
    assert os.listdir(tmp_path) == []


def test_limits_table_is_what_the_modules_use():
    assert fmt_index.MAX_NDIM == limits.MAX_NDIM == 64
    assert fmt_index.MAX_CHUNK_SIZE == limits.MAX_CHUNK_SIZE
    assert sth.MAX_HEADER_SIZE == limits.MAX_HEADER_SIZE == limits.MAX_PREFIX_SIZE - 8
    assert zipweights.reader.DEFAULT_MAX_OUTPUT_SIZE == limits.DEFAULT_MAX_OUTPUT_SIZE == 1 << 40
    # a 100 MB header cannot list more tensors than the entry limit: each needs 50 bytes
    assert len('"a":{"dtype":"U8","shape":[],"data_offsets":[0,0]},') * limits.MAX_ENTRIES > limits.MAX_HEADER_SIZE


# -- 4. a ZSTD stream is one frame -------------------------------------------------------------
@pytest.mark.parametrize("extra", [b"", b"\x00", b"frame+", "second frame"])
def test_zstd_stream_is_one_frame(extra):
    data = bytes(range(256)) * 4
    frame = zstandard.ZstdCompressor(level=3, write_content_size=True).compress(data)
    if extra == "second frame":
        extra = frame
    payload = struct.pack("<BI", entropy.ZSTD, len(frame) + len(extra)) + frame + extra
    out = bytearray(len(data))
    if not extra:
        chain.decode_chunk(chain.PLANES, payload, U8, memoryview(out))
        assert bytes(out) == data
        return
    with pytest.raises(CorruptDataError, match=f"plane 0: zstd stream holds {len(extra)} bytes after its frame"):
        chain.decode_chunk(chain.PLANES, payload, U8, memoryview(out))


@pytest.mark.parametrize("checksum", [False, True])
def test_zstd_frame_size(checksum):
    for data in (b"x" * 10, bytes(300_000), np.random.default_rng(1).bytes(200_000)):
        frame = zstandard.ZstdCompressor(write_content_size=True, write_checksum=checksum).compress(data)
        assert entropy.zstd_frame_size(frame) == len(frame)
        with pytest.raises(CorruptDataError, match="truncated"):
            entropy.zstd_frame_size(frame[:-1 - 4 * checksum])


# -- 5. safe_open of cut or damaged .zipw files ------------------------------------------------
def _is_both(exc, cls):
    from safetensors import SafetensorError

    return isinstance(exc, cls) and isinstance(exc, SafetensorError) and isinstance(exc, ZipWeightsError)


@pytest.fixture(scope="module")
def good_zipw():
    return _three_chunks(_same)


@pytest.mark.parametrize(
    "name, content, cls",
    [
        ("cut.safetensors.zipw", container.MAGIC[:5], TruncatedDataError),
        ("cut.bin", container.MAGIC[:3], TruncatedDataError),
        ("tiny.safetensors.zipw", b"\x01\x02", BadMagicError),
        ("empty.safetensors.zipw", b"", BadMagicError),
        ("magic.safetensors.zipw", "damaged", BadMagicError),
        ("magic.bin", "damaged", BadMagicError),  # no .zipw name: its trailer tells
    ],
)
def test_safe_open_damaged_zipw(tmp_path, good_zipw, name, content, cls):
    from zipweights.numpy import load

    if content == "damaged":
        content = b"\x88" + good_zipw[1:]
    path = write(tmp_path, name, content)
    with pytest.raises(ZipWeightsError) as info:
        zipweights.safe_open(path, "np")
    assert _is_both(info.value, cls), type(info.value).__mro__
    if name.endswith(".bin"):  # in memory there is no name to go by
        with pytest.raises(ZipWeightsError) as info:
            load(content)
        assert _is_both(info.value, cls)


def test_transparent_safe_open_damaged_zipw(tmp_path, good_zipw):
    import safetensors

    path = write(tmp_path, "m.safetensors.zipw", b"\x88" + good_zipw[1:])
    with zipweights.enabled():
        with pytest.raises(BadMagicError):
            safetensors.safe_open(path, "np")


def test_plain_safetensors_is_still_safetensors(tmp_path):
    # named .zipw, or ending with the trailer magic: a valid safetensors file is read as one
    import safetensors

    data = b"ZIPWIDX\x00"
    st = st_file(_one([8], "U8", 8), data)
    for name in ("plain.zipw", "plain.safetensors"):
        path = write(tmp_path, name, st)
        with zipweights.safe_open(path, "np") as f:
            assert f.get_tensor("a").tobytes() == data
        with safetensors.safe_open(path, "np") as f:
            assert f.get_tensor("a").tobytes() == data


@pytest.mark.parametrize("framework", ["np", "pt"])
def test_shape_a_framework_cannot_hold(tmp_path, framework):
    # [2**64 - 1, 0] is a valid safetensors shape (0 elements) that neither numpy nor
    # torch can represent: a ZipWeightsError naming the tensor, not a ValueError
    st = st_file(_one([2**64 - 1, 0]))
    src = write(tmp_path, "x.safetensors", st)
    zipweights.compress_file(src, threads=1)
    with zipweights.safe_open(src + ".zipw", framework) as f:
        with pytest.raises(ZipWeightsError, match="tensor 'a': .* cannot hold F32"):
            f.get_tensor("a")
        with pytest.raises(ZipWeightsError, match="cannot hold"):
            f.get_slice("a")[:]
        row = f.get_slice("a")[2**64 - 2]  # one row of no elements
        assert tuple(row.shape) == (0,)


def _depth(o) -> int:
    if isinstance(o, list):
        return 1 + max(map(_depth, o), default=0)
    if isinstance(o, dict):
        return 1 + max(map(_depth, o.values()), default=0)
    return 0


def test_json_depth_matches_the_parse():
    # the depth pre-check (run before json.loads, which recurses per level) skips
    # strings however they escape quotes and backslashes
    from hypothesis import given, strategies as hs

    text = hs.text(alphabet='ab"\\[]{}\u00e9', max_size=8)
    values = hs.recursive(hs.none() | hs.integers(0, 9) | text,
                          lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(text, inner, max_size=3),
                          max_leaves=12)

    @given(values, hs.booleans())
    def check(obj, ascii_only):
        raw = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8")
        assert sth._json_depth(raw) == _depth(obj)

    check()


@pytest.mark.parametrize("body", ['\\"' * 500_000, '"' * 1_000_000, '\\\\' * 500_000 + '"'])
def test_json_depth_is_linear_on_escape_runs(body):
    # a backtracking string pattern took minutes on these (quadratic in the quotes)
    st = st_file('{"' + body)
    with pytest.raises(InvalidSafetensorsError, match="not valid UTF-8 JSON"):
        sth.parse(st, len(st))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_refused_without_blocking(tmp_path):
    # opening a FIFO for reading blocks until a writer comes: it must not be opened so
    fifo = str(tmp_path / "pipe.safetensors.zipw")
    os.mkfifo(fifo)
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        zipweights.ZipwFile(fifo)
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        zipweights.safe_open(fifo, "np")
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        zipweights.verify_file(fifo)
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        zipweights.ZipwFile(str(tmp_path))


def test_safe_open_plain_file_safetensors_refuses(tmp_path):
    # a plain file safetensors refuses (an unknown dtype): its error, also a ZipWeightsError
    path = write(tmp_path, "q.safetensors", st_file(_one([4], "Q4_K", 4), bytes(4)))
    with pytest.raises(ZipWeightsError, match="Q4_K") as info:
        zipweights.safe_open(path, "np")
    from safetensors import SafetensorError

    assert isinstance(info.value, SafetensorError)


def test_index_size_is_known_before_coding(two_tensor_file):
    with zipweights.ZipwFile(two_tensor_file[0]) as zf:
        blob = fmt_index.encode(zf.index)
        ents = [(len(e.name.encode()), len(e.shape), len(e.chunks)) for e in zf.entries]
        assert limits.index_size(len(zf.index.prefix), ents) == len(blob)
    limits.check_index_size(0, [(0, 1, (limits.MAX_INDEX_SIZE - 100) // 24)])
    with pytest.raises(LimitExceededError, match="use a larger chunk size"):
        limits.check_index_size(0, [(0, 1, limits.MAX_INDEX_SIZE // 24)])
