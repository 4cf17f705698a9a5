"""Container header, trailer and index: encode/decode round trips, and every rule of
spec/FORMAT.md 3-5 enforced with the specific error class. Invalid fields are crafted
by editing the index bytes and recomputing the trailer's xxh3-64 (`craft` fixture), so
each file is valid except for the one field under test."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
import xxhash
from hypothesis import given, strategies as st

import zipweights
from zipweights import dtypes, writer
from zipweights.codec import chain
from zipweights.errors import (
    BadMagicError,
    ChecksumMismatchError,
    CorruptDataError,
    LimitExceededError,
    TruncatedDataError,
    UnsupportedFeatureError,
    UnsupportedVersionError,
    ZipWeightsError,
)
from zipweights.format import container, index as fmt_index, safetensors_header as sth


def _st_file() -> bytes:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal(300) * 0.05).astype(np.float32).tobytes()
    b = rng.integers(0, 256, 40, dtype=np.uint8).tobytes()
    i = np.arange(10, dtype=np.int64).tobytes()
    prefix = sth.build([("w", "F32", (300,), 1200), ("b", "U8", (40,), 40), ("i", "I64", (10,), 80)], {"m": "1"})
    return prefix + w + b + i


@pytest.fixture(scope="module")
def sample(craft):
    st_bytes = _st_file()
    z = craft.compress_st(st_bytes, chunk_size=256, threads=1)
    assert craft.restore(z) == st_bytes
    return st_bytes, z


def _open(buf):
    with zipweights.ZipwFile(buf) as zf:
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=1)
    return bytes(out)


# -- file header ----------------------------------------------------------------------
def test_header_layout(sample):
    _, z = sample
    assert z[:8] == b"\x89ZIPW\r\n\x1a"
    assert struct.unpack_from("<HHI", z, 8) == (1, 0, 0)
    assert z[-8:] == b"ZIPWIDX\x00"


@pytest.mark.parametrize("pos", range(8))
def test_wrong_magic(sample, pos):
    _, z = sample
    bad = bytearray(z)
    bad[pos] ^= 0x20
    with pytest.raises(BadMagicError, match="not a zipweights file"):
        zipweights.ZipwFile(bytes(bad))


def test_other_file_types_are_bad_magic(craft):
    st_bytes = _st_file()
    for data in (st_bytes, b"PK\x03\x04" + bytes(100), b"\x89PNG\r\n\x1a\n" + bytes(100)):
        with pytest.raises(BadMagicError):
            zipweights.ZipwFile(data)


@pytest.mark.parametrize("version", [3, 0xFFFF])
def test_future_version(sample, version):
    _, z = sample
    bad = bytearray(z)
    struct.pack_into("<H", bad, 8, version)
    with pytest.raises(UnsupportedVersionError) as ei:
        zipweights.ZipwFile(bytes(bad))
    msg = str(ei.value)
    assert f"version {version}" in msg and "supported 2" in msg


def test_version_zero(sample):
    _, z = sample
    bad = bytearray(z)
    struct.pack_into("<H", bad, 8, 0)
    with pytest.raises(CorruptDataError, match="version 0"):
        zipweights.ZipwFile(bytes(bad))


@pytest.mark.parametrize("bit", range(16))
def test_unknown_flags(sample, bit):
    _, z = sample
    bad = bytearray(z)
    struct.pack_into("<H", bad, 10, 1 << bit)
    with pytest.raises(UnsupportedFeatureError, match="unknown header flags"):
        zipweights.ZipwFile(bytes(bad))


@pytest.mark.parametrize("bit", [0, 7, 8, 31])
def test_reserved_header_bits(sample, bit):
    _, z = sample
    bad = bytearray(z)
    struct.pack_into("<I", bad, 12, 1 << bit)
    with pytest.raises(CorruptDataError, match="reserved header field"):
        zipweights.ZipwFile(bytes(bad))


# -- trailer ----------------------------------------------------------------------------
def _trailer(z):
    return list(container.TRAILER.unpack(z[-32:]))


def _with_trailer(z, fields):
    return z[:-32] + container.TRAILER.pack(*fields)


def test_trailer_magic(sample):
    _, z = sample
    t = _trailer(z)
    t[3] = b"ZIPWIDY\x00"
    with pytest.raises(TruncatedDataError, match="no trailer"):
        zipweights.ZipwFile(_with_trailer(z, t))


@pytest.mark.parametrize("delta", [-1, 1, 100])
def test_trailer_index_offset_inconsistent(sample, delta):
    _, z = sample
    t = _trailer(z)
    t[0] += delta
    with pytest.raises(CorruptDataError, match="trailer says the index"):
        zipweights.ZipwFile(_with_trailer(z, t))


@pytest.mark.parametrize("delta", [-1, 1, 1 << 40])
def test_trailer_index_length_inconsistent(sample, delta):
    _, z = sample
    t = _trailer(z)
    t[1] += delta
    with pytest.raises(CorruptDataError, match="trailer says the index"):
        zipweights.ZipwFile(_with_trailer(z, t))


def test_trailer_index_inside_header(sample):
    _, z = sample
    t = _trailer(z)
    size = len(z)
    t[0], t[1] = 8, size - 32 - 8  # would end at the right place, but starts in the header
    with pytest.raises(CorruptDataError, match="trailer says the index"):
        zipweights.ZipwFile(_with_trailer(z, t))


def test_trailer_index_checksum(sample):
    _, z = sample
    t = _trailer(z)
    t[2] ^= 1
    with pytest.raises(ChecksumMismatchError, match="index checksum mismatch"):
        zipweights.ZipwFile(_with_trailer(z, t))


def test_smallest_possible_file_is_an_empty_raw_file(craft):
    z = craft.compress(writer.source_from_bytes(b""), threads=1)
    assert craft.restore(z) == b""
    with zipweights.ZipwFile(z) as zf:
        assert zf.original_size == 0 and zf.original_sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("n", [16, 20, 47])
def test_shorter_than_header_and_trailer(sample, n):
    _, z = sample
    with pytest.raises(TruncatedDataError, match="shorter than a header and a trailer"):
        zipweights.ZipwFile(z[:n])


# -- index: round trip ---------------------------------------------------------------------
def test_index_encode_decode_round_trip(sample, craft):
    _, z = sample
    body, blob, _ = craft.split(z)
    idx = fmt_index.decode(blob, len(body), "t")
    assert fmt_index.encode(idx) == blob
    assert [e.name for e in idx.entries] == ["w", "b", "i"]
    assert [e.dtype.name for e in idx.entries] == ["F32", "U8", "I64"]
    assert [e.shape for e in idx.entries] == [(300,), (40,), (10,)]
    assert [len(e.chunks) for e in idx.entries] == [5, 1, 1]
    assert idx.source_kind == fmt_index.SOURCE_SAFETENSORS
    assert idx.original_sha256 == hashlib.sha256(sample[0]).digest()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(dtypes.BY_ID)),
            st.lists(st.integers(0, 5), max_size=4),
            st.text(max_size=12),
            st.integers(1, 600),
            st.booleans(),
        ),
        max_size=5,
        unique_by=lambda spec: spec[2],  # tensor names are unique (spec 5.3)
    ),
    st.binary(max_size=40),
)
def test_index_round_trip_any(specs, prefix):
    entries, offset, rows_before = [], len(prefix), 0
    for dtype_id, shape, name, chunk_units, blob in specs:
        dt = dtypes.BY_ID[dtype_id]
        numel = int(np.prod(shape)) if shape else 1
        length = dt.nbytes(numel)
        if length is None:
            length, blob = numel, True
        chunk = chunk_units * dt.unit
        k = fmt_index.chunk_count(length, chunk)
        rows = np.zeros(k, fmt_index.CHUNK_ROW)
        rows["offset"] = 16 + (rows_before + np.arange(k)) * 3  # payloads tile in order
        rows["length"] = 3
        rows["codec"] = np.arange(k) % 4
        rows["checksum"] = np.arange(k, dtype=np.uint64) * 0x9E3779B97F4A7C15
        kind = fmt_index.KIND_BLOB if blob else fmt_index.KIND_TENSOR
        entries.append(fmt_index.Entry(kind, name, dt, tuple(shape), offset, length, chunk, rows))
        offset += length
        rows_before += k
    idx = fmt_index.Index(offset, bytes(range(32)), 1, prefix, entries)
    blob = fmt_index.encode(idx)
    back = fmt_index.decode(blob, 16 + 3 * rows_before, "t")
    assert fmt_index.encode(back) == blob
    assert (back.original_size, back.original_sha256, back.prefix) == (offset, bytes(range(32)), prefix)
    for a, b in zip(entries, back.entries):
        assert (a.kind, a.name, a.dtype, a.shape, a.offset, a.length, a.chunk_size) == (
            b.kind, b.name, b.dtype, b.shape, b.offset, b.length, b.chunk_size)
        assert a.chunks.tobytes() == b.chunks.tobytes()


# -- index: rules ------------------------------------------------------------------------------
def _edit_bytes(z, craft, fn):
    return craft.edit_index_bytes(z, fn)


def _field(z, craft, k, name):
    _, blob, _ = craft.split(z)
    return craft.entry_fields(blob)[k][name]


def _put(fmt, pos, value):
    def fn(b):
        struct.pack_into(fmt, b, pos, value)
    return fn


def test_crafting_helper_keeps_a_valid_file_valid(sample, craft):
    st_bytes, z = sample
    assert craft.edit_index_bytes(z, lambda b: None) == z
    assert _open(craft.edit_index(z, lambda idx: None)) == st_bytes


@pytest.mark.parametrize("dtype_id", [21, 22, 100, 255])
def test_unknown_dtype_id(sample, craft, dtype_id):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 1, "dtype"), dtype_id))
    with pytest.raises(UnsupportedFeatureError, match=f"unknown dtype id {dtype_id}"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("transform", [2, 255])
def test_unknown_transform(sample, craft, transform):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 0, "transform"), transform))
    with pytest.raises(UnsupportedFeatureError, match=f"transform {transform}"):
        zipweights.ZipwFile(bad)


def test_base_transform_without_base_record(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 0, "transform"), 1))
    with pytest.raises(CorruptDataError, match="coded against a base model, but the file records none"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("codec", [4, 5, 6, 7])
def test_version_2_codec_in_version_1_file(sample, craft, codec):
    _, z = sample
    pos = _field(z, craft, 0, "chunks") + 24 * 2 + 12
    bad = _edit_bytes(z, craft, _put("<B", pos, codec))
    with pytest.raises(CorruptDataError, match=f"codec {codec} does not exist in format version 1"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("kind", [2, 3, 255])
def test_unknown_entry_kind(sample, craft, kind):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 2, "kind"), kind))
    with pytest.raises(UnsupportedFeatureError, match=f"unknown entry kind {kind}"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("codec", [8, 9, 255])
def test_unknown_chunk_codec(sample, craft, codec):
    _, z = sample
    pos = _field(z, craft, 0, "chunks") + 24 * 2 + 12  # entry 0, chunk 2, codec byte
    bad = _edit_bytes(z, craft, _put("<B", pos, codec))
    with zipweights.ZipwFile(bad) as zf:  # opening reads only the index
        zf.read_into(zf.tensor("w"), bytearray(256), threads=1, chunks=[1])  # other chunks fine
        with pytest.raises(UnsupportedFeatureError, match=f"unknown chunk codec {codec}") as ei:
            zf.read_bytes("w", threads=1)
        assert "'w' chunk 2" in str(ei.value)
        with pytest.raises(UnsupportedFeatureError):
            zf.verify(threads=1)


def test_unknown_source_kind(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", 40, 2))
    with pytest.raises(UnsupportedFeatureError, match="unknown source kind 2"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("pos", range(41, 48))
def test_index_head_reserved(sample, craft, pos):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", pos, 1))
    with pytest.raises(CorruptDataError, match="reserved bytes in the index head"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("byte", [13, 14, 15])
def test_chunk_row_reserved(sample, craft, byte):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 0, "chunks") + 24 + byte, 0x40))
    with pytest.raises(CorruptDataError, match="reserved bytes in the chunk table"):
        zipweights.ZipwFile(bad)


def test_prefix_longer_than_original(sample, craft):
    _, z = sample
    bad = craft.edit_index(z, lambda idx: setattr(idx, "original_size", len(idx.prefix) - 1))
    with pytest.raises(CorruptDataError, match="exceeds the original size"):
        zipweights.ZipwFile(bad)


def test_prefix_over_limit(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<Q", 48, fmt_index.MAX_PREFIX_SIZE + 1))
    with pytest.raises(LimitExceededError, match="prefix of"):
        zipweights.ZipwFile(bad)


def test_prefix_length_past_index(sample, craft):
    _, z = sample
    def fn(b):
        (orig,) = struct.unpack_from("<Q", b, 0)
        struct.pack_into("<Q", b, 0, 10**8)  # original size large enough to pass that check
        struct.pack_into("<Q", b, 48, 10**8)
    with pytest.raises(TruncatedDataError, match="index truncated"):
        zipweights.ZipwFile(_edit_bytes(z, craft, fn))


def test_ndim_over_limit(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 0, "ndim"), 65))
    with pytest.raises(LimitExceededError, match="65 dimensions"):
        zipweights.ZipwFile(bad)


def test_name_not_utf8(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<B", _field(z, craft, 0, "name"), 0xFF))
    with pytest.raises(CorruptDataError, match="not UTF-8"):
        zipweights.ZipwFile(bad)


def test_name_length_past_index(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<I", _field(z, craft, 2, "name_length"), 1 << 31))
    with pytest.raises(TruncatedDataError, match="entry 2 name"):
        zipweights.ZipwFile(bad)


def test_shape_does_not_fill_length(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<Q", _field(z, craft, 0, "shape"), 299))
    with pytest.raises(CorruptDataError, match=r"F32 \[299\] does not fill 1200 bytes"):
        zipweights.ZipwFile(bad)


def test_entries_not_tiling(sample, craft):
    _, z = sample
    def fn(idx):
        idx.entries[1].offset += 1
    with pytest.raises(CorruptDataError, match="expected"):
        zipweights.ZipwFile(craft.edit_index(z, fn))


def test_entries_end_short_of_original(sample, craft):
    _, z = sample
    bad = craft.edit_index(z, lambda idx: setattr(idx, "original_size", idx.original_size + 1))
    with pytest.raises(CorruptDataError, match="entries end at original offset"):
        zipweights.ZipwFile(bad)


def test_entry_past_original_size(sample, craft):
    _, z = sample
    bad = craft.edit_index(z, lambda idx: setattr(idx, "original_size", idx.original_size - 1))
    with pytest.raises(CorruptDataError, match="run past the original size"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("chunk_size,error,match", [
    (0, CorruptDataError, "chunk size 0"),
    (254, CorruptDataError, "not a multiple of 4"),
    (fmt_index.MAX_CHUNK_SIZE + 4, LimitExceededError, "exceeds"),
])
def test_bad_chunk_size(sample, craft, chunk_size, error, match):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<I", _field(z, craft, 0, "chunk_size"), chunk_size))
    with pytest.raises(error, match=match):
        zipweights.ZipwFile(bad)


def test_chunk_count_mismatch(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, _put("<I", _field(z, craft, 0, "chunk_size"), 512))  # 3 chunks, 5 listed
    with pytest.raises(CorruptDataError, match="5 chunks listed, 3 expected"):
        zipweights.ZipwFile(bad)


@pytest.mark.parametrize("offset,length", [(0, 10), (15, 10), (None, 1), (None, 0x100)])
def test_chunk_payload_outside_payload_area(sample, craft, offset, length):
    _, z = sample
    body, _, _ = craft.split(z)
    pos = _field(z, craft, 1, "chunks")
    def fn(b):
        o = len(body) - length + 1 if offset is None else offset
        struct.pack_into("<QI", b, pos, o, length)
    with pytest.raises(CorruptDataError, match="outside the payload area"):
        zipweights.ZipwFile(_edit_bytes(z, craft, fn))


def test_chunk_payload_offset_overflow(sample, craft):
    _, z = sample
    pos = _field(z, craft, 0, "chunks")
    bad = _edit_bytes(z, craft, _put("<Q", pos, (1 << 64) - 4))
    with pytest.raises(CorruptDataError, match="outside the payload area"):
        zipweights.ZipwFile(bad)


def test_payloads_must_tile_in_order(sample, craft):
    # spec 5.2: payloads follow each other in chunk order; re-pointing a chunk at a copy of
    # its payload after the others (a gap, then data out of place) is refused before decoding
    st_bytes, z = sample
    body, blob, _ = craft.split(z)
    idx = fmt_index.decode(blob, len(body), "t")
    w = idx.entries[0]
    row = w.chunks[4].copy()
    payload = body[int(row["offset"]) : int(row["offset"]) + int(row["length"])]
    new_body = body + b"\x00" * 3 + payload
    w.chunks[4]["offset"] = len(body) + 3
    new_blob = fmt_index.encode(idx)
    z2 = new_body + new_blob + container.write_trailer(len(new_body), len(new_blob), xxhash.xxh3_64_intdigest(new_blob))
    with pytest.raises(CorruptDataError, match="payloads must follow each other"):
        _open(z2)


def test_trailing_bytes_after_index(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, lambda b: bytes(b) + b"\x00")
    with pytest.raises(CorruptDataError, match="1 trailing bytes after the index"):
        zipweights.ZipwFile(bad)


def test_every_index_cut_is_truncated(sample, craft):
    _, z = sample
    _, blob, _ = craft.split(z)
    for cut in range(len(blob)):
        with pytest.raises(TruncatedDataError, match="index truncated"):
            fmt_index.decode(blob[:cut], 1 << 40, "t")


def test_entry_count_too_large(sample, craft):
    _, z = sample
    _, blob, _ = craft.split(z)
    pos = 56 + struct.unpack_from("<Q", blob, 48)[0]
    bad = _edit_bytes(z, craft, _put("<I", pos, 4))
    with pytest.raises(TruncatedDataError, match="entry 3"):
        zipweights.ZipwFile(bad)


def test_wrong_chunk_checksum(sample, craft):
    _, z = sample
    pos = _field(z, craft, 2, "chunks") + 16
    bad = _edit_bytes(z, craft, lambda b: b.__setitem__(pos, b[pos] ^ 1))
    with zipweights.ZipwFile(bad) as zf:
        assert bytes(zf.read_bytes("w", threads=1)) == np.frombuffer(_st_file()[-1320:-120], np.uint8).tobytes()
        with pytest.raises(ChecksumMismatchError, match="'i' chunk 0"):
            zf.read_bytes("i", threads=1)


def test_wrong_original_sha256(sample, craft):
    _, z = sample
    bad = _edit_bytes(z, craft, lambda b: b.__setitem__(8, b[8] ^ 1))
    with zipweights.ZipwFile(bad) as zf:
        with pytest.raises(ChecksumMismatchError, match="sha256"):
            zf.restore_into(bytearray(zf.original_size), threads=1, check_sha256=True)
        with pytest.raises(ChecksumMismatchError, match="sha256"):
            zf.verify(threads=1)
        zf.restore_into(bytearray(zf.original_size), threads=1)  # the default: chunk checks only


@pytest.mark.parametrize("codec", [chain.PLANES, chain.SPARSE])
def test_blob_entry_length_not_multiple_of_unit(codec):
    # A hand-made file: one U32 blob entry of 70 bytes (17.5 values) whose only chunk is
    # coded PLANES (4 raw planes of 17 bytes) or SPARSE (nothing non-zero).
    original = bytes(70)
    if codec == chain.PLANES:
        payload = b"".join(struct.pack("<BI", 0, 17) + bytes(17) for _ in range(4))
    else:
        payload = struct.pack("<I", 0) + struct.pack("<BI", 0, 3) + bytes(3) + bytes((chain.STORE,))
    body = container.write_header() + payload
    rows = np.zeros(1, fmt_index.CHUNK_ROW)
    rows["offset"], rows["length"], rows["codec"] = 16, len(payload), codec
    rows["checksum"] = xxhash.xxh3_64_intdigest(original)
    entry = fmt_index.Entry(fmt_index.KIND_BLOB, "", dtypes.BY_NAME["U32"], (17,), 0, 70, 1 << 16, rows)
    blob = fmt_index.encode(fmt_index.Index(70, hashlib.sha256(original).digest(), 0, b"", [entry]))
    z = body + blob + container.write_trailer(len(body), len(blob), xxhash.xxh3_64_intdigest(blob))
    try:
        with zipweights.ZipwFile(z) as zf:
            zf.verify(threads=1)
    except ZipWeightsError as exc:
        assert isinstance(exc, CorruptDataError)
    else:
        pytest.fail("a 70-byte U32 blob was accepted")


def test_kept_header_must_match_the_index(craft):
    # a header that renames, retypes or reshapes a tensor the index describes differently
    import struct as _struct

    header = b'{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}'
    header += b" " * (-len(header) % 8)
    z = craft.compress_st(_struct.pack("<Q", len(header)) + header + bytes(range(16)))
    with zipweights.ZipwFile(z) as zf:
        assert zf.tensor("w").shape == (2, 2)
    for old, new in [(b'"w"', b'"v"'), (b'"F32"', b'"I32"'), (b"[2,2]", b"[4,1]")]:
        def edit(idx, old=old, new=new):
            idx.prefix = idx.prefix.replace(old, new)

        with pytest.raises(CorruptDataError, match="does not match index entry"):
            zipweights.ZipwFile(craft.edit_index(z, edit))


def test_missing_tensor_is_a_key_error_and_a_zipweights_error(craft):
    header = b'{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}'
    header += b" " * (-len(header) % 8)
    import struct as _struct

    z = craft.compress_st(_struct.pack("<Q", len(header)) + header + bytes(4))
    with zipweights.ZipwFile(z) as zf:
        with pytest.raises(KeyError):
            zf.read_bytes("nope")
        with pytest.raises(zipweights.TensorNotFoundError, match="no tensor named 'nope'"):
            zf.read_bytes("nope")
