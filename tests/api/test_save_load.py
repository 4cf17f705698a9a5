"""zipweights.numpy / zipweights.torch against safetensors.numpy / safetensors.torch:
what save_file writes restores to the very bytes safetensors writes (sha256), and the
load functions return what safetensors' return, for .zipw and plain files alike."""

from __future__ import annotations

import hashlib

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy as st_np
import safetensors.torch as st_pt
import torch
from hypothesis import given, settings, strategies as st

import zipweights
import zipweights.numpy as zw_np
import zipweights.torch as zw_pt
from zipweights.format import container

from .conftest import every_dtype_tensors, tensor_bytes


def restored_path(zipw_path, tmp_path) -> str:
    out = str(tmp_path / "restored.safetensors")
    zipweights.decompress_file(zipw_path, out, force=True)
    return out


def restored_bytes(zipw: bytes) -> bytes:
    with zipweights.ZipwFile(zipw) as zf:
        out = bytearray(zf.original_size)
        zf.restore_into(out)
    return bytes(out)


# -- save_file: byte-identical to safetensors --------------------------------------------------
@pytest.mark.parametrize("metadata", [None, {"format": "pt"}, {"ünïcode \"key\"\n": "välue\t\u2028"}])
def test_torch_save_file_restores_to_safetensors_bytes(tmp_path, metadata, sha256_file):
    tensors = every_dtype_tensors()
    ref = str(tmp_path / "ref.safetensors")
    st_pt.save_file(tensors, ref, metadata=metadata)
    zw = str(tmp_path / "model.safetensors.zipw")
    zw_pt.save_file(tensors, zw, metadata=metadata, chunk_size=512)
    with open(zw, "rb") as f:
        assert f.read(8) == container.MAGIC  # compressed, not a plain file
    assert sha256_file(restored_path(zw, tmp_path)) == sha256_file(ref)
    zipweights.verify_file(zw)


def test_numpy_save_file_restores_to_safetensors_bytes(tmp_path, sha256_file):
    rng = np.random.default_rng(1)
    tensors = {
        "w": rng.standard_normal((40, 30)).astype(np.float32),
        "b": rng.standard_normal(30).astype(np.float64),
        "h": rng.standard_normal(9).astype(np.float16),
        "bf": rng.standard_normal(12).astype(ml_dtypes.bfloat16),
        "f8": rng.standard_normal(12).astype(ml_dtypes.float8_e4m3fn),
        "ids": np.arange(10, dtype=np.int64),
        "u16": np.arange(10, dtype=np.uint16),
        "mask": np.array([True, False]),
        "c": (rng.standard_normal(3) + 1j).astype(np.complex64),
        "s": np.array(2.5, np.float32),
        "z": np.zeros((3, 0), np.int32),
        "Émoji🙂": np.ones(2, np.int8),
    }
    ref = str(tmp_path / "ref.safetensors")
    st_np.save_file(tensors, ref, metadata={"k": "v"})
    zw = str(tmp_path / "n.zipw")
    zw_np.save_file(tensors, zw, metadata={"k": "v"}, chunk_size=128)
    assert sha256_file(restored_path(zw, tmp_path)) == sha256_file(ref)
    # and save() (bytes) is the same file
    data = zw_np.save(tensors, metadata={"k": "v"}, chunk_size=128)
    assert hashlib.sha256(restored_bytes(data)).hexdigest() == sha256_file(ref)


def test_numpy_big_endian_and_non_contiguous_are_stored_by_value(tmp_path):
    a = np.arange(12, dtype=">f4").reshape(3, 4)
    b = np.arange(24, dtype=np.int32).reshape(4, 6)[:, ::2]
    zw = str(tmp_path / "x.zipw")
    zw_np.save_file({"a": a, "b": b}, zw)
    got = zw_np.load_file(zw)
    assert got["a"].dtype == np.float32 and np.array_equal(got["a"], a)
    assert np.array_equal(got["b"], b)


_NP_DTYPES = [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_,
              ml_dtypes.bfloat16]


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=6),
        st.tuples(st.sampled_from(_NP_DTYPES), st.lists(st.integers(0, 7), max_size=3), st.integers(0, 2**32 - 1)),
        max_size=6,
    ),
    st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=1)),
)
def test_numpy_save_matches_safetensors_for_any_dict(spec, metadata):
    tensors = {}
    for name, (dt, shape, seed) in spec.items():
        raw = np.random.default_rng(seed).integers(0, 256, size=int(np.prod(shape)) * np.dtype(dt).itemsize,
                                                    dtype=np.uint8)
        arr = raw.view(dt).reshape(shape) if dt is not np.bool_ else (raw % 2).astype(bool).reshape(shape)
        tensors[name] = arr
    if not tensors and metadata == {}:
        metadata = None  # safetensors 0.8 writes invalid JSON there: '{},"__metadata__":{}}'
    ref = st_np.save(tensors, metadata=metadata)
    ours = zw_np.save(tensors, metadata=metadata, chunk_size=64, threads=1)
    assert restored_bytes(ours) == ref
    got = zw_np.load(ours)
    assert sorted(got) == sorted(tensors)
    for k, v in tensors.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape and tensor_bytes(got[k]) == tensor_bytes(v)


def test_torch_save_refuses_what_safetensors_refuses():
    base = torch.zeros(4, 4)
    with pytest.raises(RuntimeError, match="share memory"):
        zw_pt.save({"a": base, "b": base})
    with pytest.raises(ValueError, match="non contiguous"):
        zw_pt.save({"a": torch.zeros(4, 4).t()})
    with pytest.raises(ValueError):
        zw_pt.save({"a": [1, 2]})
    with pytest.raises(ValueError):
        zw_pt.save({"a": torch.zeros(2)}, metadata={"x": 1})


# -- load_file / load ------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["st", "zipw"])
def test_torch_load_file_same_as_safetensors(mixed_files, which):
    ref = st_pt.load_file(mixed_files["st"])
    got = zw_pt.load_file(mixed_files[which], backend="mmap")
    assert list(got) == list(ref)
    for k in ref:
        assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape
        assert tensor_bytes(got[k]) == tensor_bytes(ref[k]), k


@pytest.mark.parametrize("which", ["st", "zipw"])
def test_numpy_load_file_same_as_safetensors_where_it_works(mixed_files, which):
    got = zw_np.load_file(mixed_files[which])
    ref_pt = st_pt.load_file(mixed_files["st"])
    assert list(got) == list(ref_pt)
    with st_np.safe_open(mixed_files["st"], "np") as f:
        for k, v in got.items():
            assert tensor_bytes(v) == tensor_bytes(ref_pt[k]) and tuple(v.shape) == tuple(ref_pt[k].shape)
            try:
                want = f.get_tensor(k)
            except (AttributeError, TypeError, KeyError):
                assert v.dtype.type.__module__.startswith("ml_dtypes"), k  # done better than safetensors
                continue
            assert v.dtype == want.dtype, k


@pytest.mark.parametrize("mod", [zw_np, zw_pt], ids=["np", "pt"])
def test_load_bytes_never_mutates_the_buffer(mixed_files, mod):
    for which in ("zipw", "st"):
        data = bytearray(open(mixed_files[which], "rb").read())
        before = bytes(data)
        got = mod.load(data)
        assert bytes(data) == before
        # results own their memory: clobbering the buffer changes nothing
        snap = {k: tensor_bytes(v) for k, v in got.items()}
        data[:] = b"\0" * len(data)
        del data
        assert {k: tensor_bytes(v) for k, v in got.items()} == snap
        ref = st_pt.load(open(mixed_files["st"], "rb").read())
        assert sorted(got) == sorted(ref)
        for k in ref:
            assert snap[k] == tensor_bytes(ref[k]), k


def test_save_model_load_model_tied_weights(tmp_path, sha256_file):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(8, 8)
            self.b = torch.nn.Linear(8, 8)
            self.b.weight = self.a.weight

    torch.manual_seed(0)
    m = Tied()
    ref = str(tmp_path / "ref.safetensors")
    st_pt.save_model(m, ref)
    zw = str(tmp_path / "m.safetensors.zipw")
    zw_pt.save_model(m, zw)
    assert sha256_file(restored_path(zw, tmp_path)) == sha256_file(ref)
    m2 = Tied()
    missing, unexpected = zw_pt.load_model(m2, zw)
    assert not missing and not unexpected
    for (k, v), (k2, v2) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and tensor_bytes(v) == tensor_bytes(v2)
    assert m2.b.weight is m2.a.weight
    # the plain file loads through the same call
    m3 = Tied()
    zw_pt.load_model(m3, ref)
    assert tensor_bytes(m3.a.weight) == tensor_bytes(m.a.weight)


def test_import_zipweights_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, zipweights, zipweights.numpy; zipweights.enable(); zipweights.disable(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
