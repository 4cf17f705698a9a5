"""safetensors_header.parse: accepts what safetensors writes, rejects (with
InvalidSafetensorsError) everything safetensors itself would refuse."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from zipweights.errors import InvalidArgumentError, InvalidSafetensorsError
from zipweights.format import safetensors_header as sth


def _file(header: dict | bytes, data: bytes = b"", pad: bool = True) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def _parse(buf: bytes):
    return sth.parse(buf, len(buf))


def test_error_is_an_invalid_argument():
    assert issubclass(InvalidSafetensorsError, InvalidArgumentError)
    assert issubclass(InvalidSafetensorsError, ValueError)


# -- accepts what safetensors writes ----------------------------------------------
@pytest.mark.parametrize("metadata", [None, {}, {"format": "pt", "ünï": "cødé"}])
def test_accepts_numpy_save(metadata):
    from safetensors.numpy import save

    tensors = {
        "b": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a": np.array(3, dtype=np.int64),  # 0-d
        "empty": np.zeros((0, 4), dtype=np.float16),
        "flags": np.array([True, False, True]),
        "u8": np.arange(7, dtype=np.uint8),
    }
    buf = save(tensors, metadata=metadata)
    h = _parse(buf)
    assert h.metadata == (metadata or None) or (metadata == {} and h.metadata in (None, {}))
    got = {t.name: t for t in h.tensors}
    assert set(got) == set(tensors)
    for name, arr in tensors.items():
        t = got[name]
        assert t.shape == arr.shape
        assert bytes(buf[h.data_start + t.begin : h.data_start + t.end]) == arr.tobytes()
    assert [t.begin for t in h.tensors] == sorted(t.begin for t in h.tensors)


def test_accepts_torch_save_all_dtypes():
    from safetensors.torch import save

    tensors = {
        "bf16": torch.tensor([1.0, -0.0, float("inf")], dtype=torch.bfloat16),
        "f16": torch.ones(3, 5, dtype=torch.float16),
        "f64": torch.zeros(2, dtype=torch.float64),
        "i16": torch.arange(5, dtype=torch.int16),
        "i32": torch.arange(5, dtype=torch.int32),
        "i8": torch.arange(5, dtype=torch.int8),
        "f8e4": torch.zeros(9, dtype=torch.float8_e4m3fn),
        "f8e5": torch.zeros(9, dtype=torch.float8_e5m2),
        "scalar": torch.tensor(2.5),
        "c64": torch.zeros(3, dtype=torch.complex64),
    }
    buf = save(tensors, metadata={"format": "pt"})
    h = _parse(buf)
    assert h.metadata == {"format": "pt"}
    got = {t.name: t for t in h.tensors}
    assert got["f8e4"].dtype_name == "F8_E4M3" and got["c64"].dtype_name == "C64"
    assert got["scalar"].shape == ()
    for name, t in tensors.items():
        assert got[name].end - got[name].begin == t.numel() * t.element_size()


def test_accepts_unknown_dtype_name_as_is():
    buf = _file({"x": {"dtype": "Q7_FANCY", "shape": [3], "data_offsets": [0, 5]}}, b"12345")
    (t,) = _parse(buf).tensors
    assert t.dtype_name == "Q7_FANCY" and (t.begin, t.end) == (0, 5)


@pytest.mark.parametrize("dtype,shape,nbytes", [("F4", [4], 2), ("F4", [3, 2], 3), ("F6_E2M3", [4], 3), ("F6_E3M2", [8], 6)])
def test_sub_byte_dtypes(dtype, shape, nbytes):
    buf = _file({"x": {"dtype": dtype, "shape": shape, "data_offsets": [0, nbytes]}}, bytes(nbytes))
    assert _parse(buf).tensors[0].end == nbytes


@pytest.mark.parametrize("dtype,shape", [("F4", [3]), ("F6_E2M3", [3]), ("F6_E3M2", [1])])
def test_sub_byte_dtypes_that_do_not_fill_bytes(dtype, shape):
    buf = _file({"x": {"dtype": dtype, "shape": shape, "data_offsets": [0, 2]}}, bytes(2))
    with pytest.raises(InvalidSafetensorsError, match="needs"):
        _parse(buf)


def test_build_matches_safetensors_layout():
    from safetensors.numpy import load

    prefix = sth.build([("w", "F32", (2, 2), 16), ("s", "I64", (), 8)], {"k": "v"})
    buf = prefix + np.arange(4, dtype=np.float32).tobytes() + np.array(7, np.int64).tobytes()
    assert len(prefix) % 8 == 0
    h = _parse(buf)
    assert h.metadata == {"k": "v"} and [t.name for t in h.tensors] == ["w", "s"]
    back = load(buf)
    assert back["w"].tobytes() == np.arange(4, dtype=np.float32).tobytes() and int(back["s"]) == 7


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8).filter(lambda s: s != "__metadata__"),
            st.sampled_from(["F32", "BF16", "I8", "U64", "BOOL", "F8_E5M2"]),
            st.lists(st.integers(0, 4), max_size=3),
        ),
        max_size=5,
        unique_by=lambda t: t[0],
    )
)
def test_parse_inverts_build(specs):
    from zipweights import dtypes

    tensors = []
    for name, dt, shape in specs:
        n = int(np.prod(shape)) if shape else 1
        tensors.append((name, dt, tuple(shape), dtypes.BY_NAME[dt].nbytes(n)))
    prefix = sth.build(tensors, None)
    buf = prefix + bytes(sum(t[3] for t in tensors))
    h = _parse(buf)
    assert h.data_start == len(prefix)
    assert sorted((t.name, t.dtype_name, t.shape, t.end - t.begin) for t in h.tensors) == sorted(tensors)


# -- rejects -------------------------------------------------------------------------
def T(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    "header,data,match",
    [
        ({"a": T(offsets=(0, 8)), "b": T(offsets=(12, 20))}, 20, "expected 8"),  # hole
        ({"a": T(offsets=(0, 8)), "b": T(offsets=(4, 12))}, 12, "expected 8"),  # overlap
        ({"a": T(offsets=(4, 12))}, 12, "expected 0"),  # hole at the start
        ({"a": T(offsets=(0, 8))}, 12, "cover 8 bytes but the data section holds 12"),  # trailing data
        ({"a": T(offsets=(0, 8))}, 4, "cover 8 bytes but the data section holds 4"),  # short data
        ({"a": T(shape=(3,), offsets=(0, 8))}, 8, "needs 12 bytes"),  # wrong byte count
        ({"a": T(dtype="BF16", shape=(2, 2), offsets=(0, 16))}, 16, "needs 8 bytes"),
        ({"a": T(offsets=(8, 0))}, 8, "invalid data_offsets"),
        ({"a": T(offsets=(0,))}, 8, "invalid data_offsets"),
        ({"a": T(offsets=(0, -8))}, 8, "invalid data_offsets"),
        ({"a": T(offsets=(0, 8.0))}, 8, "invalid data_offsets"),
        ({"a": T(offsets=(False, 8))}, 8, "invalid data_offsets"),
        ({"a": T(shape=(-2,))}, 8, "invalid shape"),
        ({"a": T(shape=(2.0,))}, 8, "invalid shape"),
        ({"a": T(shape=(True, 2))}, 8, "invalid shape"),
        ({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}, 8, "invalid shape"),
        ({"a": {"dtype": 12, "shape": [2], "data_offsets": [0, 8]}}, 8, "non-string dtype"),
        ({"a": {"dtype": "F32", "shape": [2]}}, 8, "exactly dtype, shape and data_offsets"),
        ({"a": dict(T(), extra=1)}, 8, "exactly dtype, shape and data_offsets"),
        ({"a": [1, 2]}, 8, "exactly dtype"),
        ({"__metadata__": {"k": 1}, "a": T()}, 8, "__metadata__ must map strings to strings"),
        ({"__metadata__": ["k"], "a": T()}, 8, "__metadata__ must map strings to strings"),
        ({"__metadata__": "text", "a": T()}, 8, "__metadata__ must map strings to strings"),
        ({"__metadata__": {"k": {"nested": "v"}}, "a": T()}, 8, "__metadata__"),
    ],
)
def test_rejects_bad_header(header, data, match):
    with pytest.raises(InvalidSafetensorsError, match=match):
        _parse(_file(header, bytes(data)))


def test_rejects_duplicate_keys():
    raw = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'
    with pytest.raises(InvalidSafetensorsError, match="duplicate key 'a'"):
        _parse(_file(raw, b"xy"))


def test_rejects_duplicate_metadata_keys():
    raw = b'{"__metadata__":{"k":"1","k":"2"}}'
    with pytest.raises(InvalidSafetensorsError, match="duplicate key 'k'"):
        _parse(_file(raw))


@pytest.mark.parametrize(
    "raw,match",
    [
        (b"not json", "does not start with"),
        (b" {}", "does not start with"),
        (b"[1, 2]", "does not start with"),
        (b"{\"a\": ", "not valid UTF-8 JSON"),
        (b"{\"a\xff\": 1}", "not valid UTF-8 JSON"),
        (b"{} trailing", "not valid UTF-8 JSON"),
        (b"", "does not start with"),
    ],
)
def test_rejects_non_json(raw, match):
    with pytest.raises(InvalidSafetensorsError, match=match):
        _parse(_file(raw, pad=False))


def test_header_larger_than_file():
    buf = struct.pack("<Q", 1000) + b"{}" + b" " * 100
    with pytest.raises(InvalidSafetensorsError, match="does not fit in a file of 110 bytes"):
        _parse(buf)


@pytest.mark.parametrize("size", [sth.MAX_HEADER_SIZE + 1, 1 << 40, (1 << 64) - 1])
def test_header_size_over_limit_refused_before_reading(size):
    # only 8 bytes exist: the limit is checked on the declared size, nothing is allocated
    with pytest.raises(InvalidSafetensorsError, match="exceeds the safetensors limit"):
        sth.read_header_size(struct.pack("<Q", size), (1 << 62))
    with pytest.raises(InvalidSafetensorsError, match="exceeds the safetensors limit"):
        sth.parse(struct.pack("<Q", size), 1 << 62)


def test_header_at_limit_is_not_refused_for_size():
    n = sth.MAX_HEADER_SIZE
    assert sth.read_header_size(struct.pack("<Q", n), 8 + n) == n


@pytest.mark.parametrize("n", [0, 1, 7])
def test_too_short_for_size_field(n):
    with pytest.raises(InvalidSafetensorsError, match="too short"):
        sth.parse(bytes(n), n)


def test_prefix_shorter_than_declared_header():
    buf = _file({"a": T()}, bytes(8))
    with pytest.raises(InvalidSafetensorsError, match="header truncated"):
        sth.parse(buf[:20], len(buf))


def test_empty_header_object_with_no_data():
    h = _parse(_file({}))
    assert h.tensors == [] and h.metadata is None


def test_empty_tensors_share_an_offset():
    buf = _file({"e1": T(shape=(0,), offsets=(0, 0)), "a": T(offsets=(0, 8)), "e2": T(shape=(0, 3), offsets=(8, 8))}, bytes(8))
    assert [t.name for t in _parse(buf).tensors] == ["e1", "a", "e2"]
