"""zipweights.safe_open against safetensors.safe_open on the same file (numpy and torch)."""

from __future__ import annotations

import gc

import ml_dtypes
import numpy as np
import pytest
import safetensors
import torch
from safetensors import safe_open as st_safe_open

import zipweights
import zipweights.numpy
import zipweights.torch
from zipweights import ZipwFile
from zipweights.lazy import numpy_dtype

from .conftest import tensor_bytes

FRAMEWORKS = ["np", "pt"]


def st_reference(path, name):
    """(dtype code, shape, bytes) of a tensor as safetensors reads it (torch path:
    it handles every dtype of the test file)."""
    with st_safe_open(path, "pt") as f:
        sl = f.get_slice(name)
        return sl.get_dtype(), list(sl.get_shape()), tensor_bytes(f.get_tensor(name))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_keys_metadata_order_same_as_safetensors(mixed_files, framework):
    with st_safe_open(mixed_files["st"], framework) as ref, zipweights.safe_open(mixed_files["zipw"], framework) as f:
        assert f.keys() == ref.keys()
        assert f.offset_keys() == ref.offset_keys()
        assert f.metadata() == ref.metadata() == {"format": "pt"}
        assert list(f.get_tensors()) == list(ref.get_tensors()) if framework == "pt" else True


def test_metadata_none_like_safetensors(tmp_path):
    from safetensors.numpy import save_file

    p = str(tmp_path / "a.safetensors")
    save_file({"x": np.arange(3, dtype=np.float32)}, p)
    zipweights.compress_file(p)
    with st_safe_open(p, "np") as ref, zipweights.safe_open(p + ".zipw", "np") as f:
        assert f.metadata() is None and ref.metadata() is None


def test_get_tensor_torch_same_dtype_shape_bytes(mixed_files):
    with st_safe_open(mixed_files["st"], "pt") as ref, zipweights.safe_open(mixed_files["zipw"], "pt") as f:
        for name in ref.keys():
            a, b = ref.get_tensor(name), f.get_tensor(name)
            assert isinstance(b, torch.Tensor)
            assert b.dtype == a.dtype and b.shape == a.shape, name
            assert tensor_bytes(b) == tensor_bytes(a), name
            assert b.is_contiguous() and b.device.type == "cpu"


def test_get_tensor_numpy_matches_safetensors_and_ml_dtypes(mixed_files):
    with zipweights.safe_open(mixed_files["zipw"], "np") as f, st_safe_open(mixed_files["st"], "np") as ref:
        for name in f.keys():
            code, shape, raw = st_reference(mixed_files["st"], name)
            got = f.get_tensor(name)
            assert isinstance(got, np.ndarray)
            assert list(got.shape) == shape and tensor_bytes(got) == raw, name
            assert got.dtype == numpy_dtype(code)
            try:
                want = ref.get_tensor(name)  # what safetensors' numpy path gives, where it can
            except (AttributeError, TypeError, KeyError):
                assert code.startswith("F8_") or code == "BF16", code  # safetensors raises: we use ml_dtypes
                continue
            assert got.dtype == want.dtype and got.shape == want.shape and tensor_bytes(got) == tensor_bytes(want)


def test_bf16_fp8_are_ml_dtypes(mixed_files):
    with zipweights.safe_open(mixed_files["zipw"], "np") as f:
        assert f.get_tensor("bf16.w").dtype == ml_dtypes.bfloat16
        assert f.get_tensor("f8e4m3").dtype == ml_dtypes.float8_e4m3fn
        assert f.get_tensor("f8e5m2").dtype == ml_dtypes.float8_e5m2


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_same_call_reads_plain_safetensors(mixed_files, framework):
    with zipweights.safe_open(mixed_files["st"], framework) as f, zipweights.safe_open(
        mixed_files["zipw"], framework
    ) as z:
        assert f.keys() == z.keys() and f.metadata() == z.metadata()
        for name in z.keys():
            a, b = f.get_tensor(name), z.get_tensor(name)
            assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
            assert tensor_bytes(a) == tensor_bytes(b), name


def test_ignores_newer_keywords_and_positional_device(mixed_files):
    with zipweights.safe_open(mixed_files["zipw"], "pt", "cpu", backend="pread") as f:
        assert f.get_tensor("i8").tolist() == list(range(-5, 5))
    with zipweights.safe_open(mixed_files["zipw"], framework="numpy", device="cpu", backend="mmap") as f:
        assert f.get_tensor("i8").tolist() == list(range(-5, 5))


def test_errors_like_safetensors(mixed_files):
    with zipweights.safe_open(mixed_files["zipw"], "pt") as f:
        with pytest.raises(safetensors.SafetensorError, match="does not contain tensor nope"):
            f.get_tensor("nope")
        with pytest.raises(zipweights.ZipWeightsError):
            f.get_slice("nope")
    with pytest.raises(safetensors.SafetensorError, match="File is closed"):
        f.get_tensor("i8")


# -- slices ---------------------------------------------------------------------------------
INDEXES_2D = [
    (slice(3, 10),),
    (slice(3, 10), slice(5, 20)),
    (slice(-5, None),),
    (slice(None, 2), slice(None, None, 3)),
    (7,),
    (-1,),
    (7, 3),
    (Ellipsis, 2),
    (slice(None), 1),
    (slice(10, 3),),
    (slice(0, 64),),
    (Ellipsis,),
    (slice(None),),
    (slice(62, 100),),
    (5, slice(3, 40, 4)),
]


def _index(key):
    return key[0] if len(key) == 1 else key


@pytest.mark.parametrize("key", INDEXES_2D, ids=repr)
def test_slices_torch_same_as_safetensors(mixed_files, key):
    with st_safe_open(mixed_files["st"], "pt") as ref, zipweights.safe_open(mixed_files["zipw"], "pt") as f:
        a, b = ref.get_slice("big.f32")[_index(key)], f.get_slice("big.f32")[_index(key)]
        assert a.dtype == b.dtype and a.shape == b.shape
        assert tensor_bytes(a) == tensor_bytes(b)


@pytest.mark.parametrize("key", INDEXES_2D + [(slice(None, None, -1),), (slice(50, 3, -7), 2)], ids=repr)
def test_slices_numpy_same_as_indexing_the_tensor(mixed_files, key):
    full = zipweights.numpy.load_file(mixed_files["st"])["big.f32"]
    with zipweights.safe_open(mixed_files["zipw"], "np") as f:
        b = f.get_slice("big.f32")[_index(key)]
        want = full[_index(key)]
        assert isinstance(b, np.ndarray) and b.dtype == want.dtype and b.shape == np.shape(want)
        assert tensor_bytes(b) == tensor_bytes(np.asarray(want))
        assert b.flags.c_contiguous and b.flags.writeable


@pytest.mark.parametrize("key", [(slice(3, 10),), (slice(3, 10), slice(5, 20)), (7,), (7, 3), (slice(None), 1)],
                         ids=repr)
def test_slices_numpy_same_as_safetensors_numpy(mixed_files, key):
    with st_safe_open(mixed_files["st"], "np") as ref, zipweights.safe_open(mixed_files["zipw"], "np") as f:
        a, b = ref.get_slice("big.f32")[_index(key)], f.get_slice("big.f32")[_index(key)]
        assert a.dtype == b.dtype and a.shape == b.shape and tensor_bytes(a) == tensor_bytes(b)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_slice_shape_dtype_and_every_tensor_whole(mixed_files, framework):
    with st_safe_open(mixed_files["st"], "pt") as ref, zipweights.safe_open(mixed_files["zipw"], framework) as f:
        for name in f.keys():
            s, r = f.get_slice(name), ref.get_slice(name)
            assert s.get_shape() == r.get_shape() and s.get_dtype() == r.get_dtype()
            assert tensor_bytes(s[...]) == tensor_bytes(r[...]), name
            if r.get_shape() and r.get_shape()[0]:
                assert tensor_bytes(s[1:]) == tensor_bytes(r[1:]), name
                assert tensor_bytes(s[0]) == tensor_bytes(r[0]), name


def test_slice_outlives_the_file_as_in_safetensors(mixed_files):
    with st_safe_open(mixed_files["st"], "pt") as ref:
        rs = ref.get_slice("big.f32")
    with zipweights.safe_open(mixed_files["zipw"], "pt") as f:
        s = f.get_slice("big.f32")
    gc.collect()
    assert tensor_bytes(s[2:5]) == tensor_bytes(rs[2:5])


# -- laziness: prove it by corrupting what must not be read ----------------------------------
def _corrupt_chunks(src, dst, keep):
    """Copy `src` with one payload byte flipped in every chunk for which
    keep(entry name, chunk number) is false."""
    data = bytearray(open(src, "rb").read())
    with ZipwFile(src) as zf:
        for e in zf.entries:
            for i, row in enumerate(e.chunks):
                if not keep(e.name, i):
                    off, n = int(row["offset"]), int(row["length"])
                    data[off + n // 2] ^= 0x5A
                    data[off] ^= 0xFF
    open(dst, "wb").write(bytes(data))


def test_one_tensor_decodes_only_its_own_chunks(mixed_files, tmp_path):
    bad = str(tmp_path / "bad.zipw")
    _corrupt_chunks(mixed_files["zipw"], bad, keep=lambda name, i: name == "i64")
    for framework in FRAMEWORKS:
        with zipweights.safe_open(bad, framework) as f:
            assert tensor_bytes(f.get_tensor("i64")) == tensor_bytes(mixed_files["tensors"]["i64"])
            with pytest.raises(zipweights.ZipWeightsError):
                f.get_tensor("big.f32")


def test_slice_decodes_only_the_chunks_of_its_rows(mixed_files, tmp_path):
    # big.f32 is 64 x 48 float32 (192-byte rows) in 256-byte chunks: rows 10..11 are
    # bytes 1920..2303, chunks 7 and 8; row 10 alone is in chunk 7.
    with ZipwFile(mixed_files["zipw"]) as zf:
        assert zf.tensor("big.f32").chunk_size == 256
    bad = str(tmp_path / "bad.zipw")
    _corrupt_chunks(mixed_files["zipw"], bad, keep=lambda name, i: name == "big.f32" and i in (7, 8))
    full = mixed_files["tensors"]["big.f32"]
    with zipweights.safe_open(bad, "pt") as f:
        s = f.get_slice("big.f32")
        assert tensor_bytes(s[10:12]) == tensor_bytes(full[10:12])
        assert tensor_bytes(s[10, 5:9]) == tensor_bytes(full[10, 5:9])
        assert tensor_bytes(s[11]) == tensor_bytes(full[11])
        with pytest.raises(zipweights.ZipWeightsError):
            s[9:12]
        with pytest.raises(zipweights.ZipWeightsError):
            f.get_tensor("big.f32")


# -- memory ownership -----------------------------------------------------------------------
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_tensors_own_their_memory(mixed_files, framework):
    with zipweights.safe_open(mixed_files["zipw"], framework) as f:
        a = f.get_tensor("big.f32")
        b = f.get_slice("big.f32")[4:6]
        allt = f.get_tensors()
    del f
    gc.collect()
    want = mixed_files["tensors"]["big.f32"]
    assert tensor_bytes(a) == tensor_bytes(want)
    assert tensor_bytes(b) == tensor_bytes(want[4:6])
    # writable, and writing one result does not change another
    a[0, 0] = 123.0
    assert tensor_bytes(allt["big.f32"]) == tensor_bytes(want)
    allt["big.f32"][1, 1] = 7.0
    assert tensor_bytes(b) == tensor_bytes(want[4:6])


def test_real_weights_every_tensor_same_as_safetensors(minilm_fp32, tmp_path):
    zw = str(tmp_path / "minilm.safetensors.zipw")
    zipweights.compress_file(minilm_fp32, zw, threads=2)
    from safetensors.torch import load_file as st_load

    ref = st_load(minilm_fp32)
    got = zipweights.torch.load_file(zw)
    assert list(got) == list(ref)
    for k in ref:
        assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape
        assert tensor_bytes(got[k]) == tensor_bytes(ref[k]), k
    with zipweights.safe_open(zw, "np") as f, st_safe_open(minilm_fp32, "np") as r:
        assert f.keys() == r.keys() and f.metadata() == r.metadata()
        name = "embeddings.word_embeddings.weight"
        assert tensor_bytes(f.get_slice(name)[1000:1010]) == tensor_bytes(r.get_slice(name)[1000:1010])


def test_numpy_slicing_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    zw = str(tmp_path / "w.zipw")
    code = f"""
import sys, numpy as np, zipweights, zipweights.numpy as zn
zn.save_file({{"w": np.arange(100, dtype=np.float32).reshape(10, 10)}}, {zw!r})
with zipweights.safe_open({zw!r}, "np") as f:
    assert f.get_slice("w")[2:4, 1].tolist() == [21.0, 31.0]
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"


def test_header_naming_a_tensor_the_index_lacks_is_corrupt_data(craft):
    # F8_E4M3FNUZ is opaque to the dtype table, so the reader takes its dtype from the
    # safetensors header kept in the index: a header that disagrees with the entries
    # is a corrupt file, not a KeyError
    import json
    import struct

    header = json.dumps({"a": {"dtype": "F8_E4M3FNUZ", "shape": [4], "data_offsets": [0, 4]}},
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    zipw = craft.compress_st(struct.pack("<Q", len(header)) + header + bytes(4))
    with ZipwFile(zipw) as zf:
        assert zipweights.lazy.ZipwSafeOpen(zf, "np").get_slice("a").get_dtype() == "F8_E4M3FNUZ"

    def rename(idx):
        idx.prefix = idx.prefix.replace(b'"a"', b'"b"')

    # the reader cross-checks the kept header against the index when it opens the file
    with pytest.raises(zipweights.CorruptDataError, match="'b'"):
        ZipwFile(craft.edit_index(zipw, rename))
