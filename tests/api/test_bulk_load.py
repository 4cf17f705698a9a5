"""Whole-model loads into one huge-page map (lazy._Wrapper.empty_many) and with the
read-ahead thread (_mapped.ReadAhead): the same bytes as safetensors' own load, for
every dtype, odd shapes, empty tensors and delta files; the output cap still refused
before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest

import zipweights
import zipweights.lazy as lazy
import zipweights.numpy as znp
from zipweights import _mapped
from zipweights.errors import LimitExceededError

from .conftest import tensor_bytes

BULK = {"bulk": 0, "per-tensor": 1 << 62}  # lazy.BULK_MIN: every load in one map, or none


@pytest.fixture(params=list(BULK))
def bulk(request, monkeypatch):
    monkeypatch.setattr(lazy, "BULK_MIN", BULK[request.param])
    return request.param


@pytest.fixture
def tiny_readahead(monkeypatch):
    # windows of one page, at most two pages ahead: the thread's loop and its wait for
    # the decode both run on these small files
    monkeypatch.setattr(_mapped.ReadAhead, "WINDOW", 4096)
    monkeypatch.setattr(_mapped.ReadAhead, "AHEAD", 8192)


def _st_bytes_torch(path) -> dict:
    import safetensors.torch

    return {k: tensor_bytes(v) for k, v in safetensors.torch.load_file(path).items()}


def test_torch_load_file_is_bit_exact(mixed_files, bulk, tiny_readahead):
    import zipweights.torch as zt

    got = zt.load_file(mixed_files["zipw"], threads=2)
    want = _st_bytes_torch(mixed_files["st"])
    assert list(got) == list(want)
    for k, v in got.items():
        assert tensor_bytes(v) == want[k], k
        assert tuple(v.shape) == tuple(mixed_files["tensors"][k].shape) and v.dtype == mixed_files["tensors"][k].dtype
    assert got["empty"].shape == (0, 4)


@pytest.fixture(scope="module")
def real_bf16(real_weights, tmp_path_factory):
    """(safetensors, .zipw) of real bf16 weights (45 MB: over BULK_MIN)."""
    zw = str(tmp_path_factory.mktemp("bulk") / "minilm-bf16.safetensors.zipw")
    zipweights.compress_file(real_weights["bf16"], zw)
    return real_weights["bf16"], zw


def test_numpy_load_file_is_bit_exact(real_bf16, bulk, tiny_readahead):
    st, zw = real_bf16
    import safetensors.torch  # its numpy face cannot read bf16

    want = {k: tensor_bytes(v) for k, v in safetensors.torch.load_file(st).items()}
    got = znp.load_file(zw, threads=2)
    assert list(got) == list(want)
    for k, v in got.items():
        assert v.tobytes() == want[k], k
        assert v.flags.c_contiguous and v.flags.writeable
    if bulk == "bulk":  # the tensors are views of one map, each 64-byte aligned
        assert all(v.ctypes.data % 64 == 0 for v in got.values() if v.size)
        first = next(iter(got.values()))
        assert all(v.base is not None for v in got.values())
        first[...] = 0  # writable, and writing one does not touch its neighbours
        again = znp.load_file(zw)
        for k in list(got)[1:]:
            assert got[k].tobytes() == again[k].tobytes()


def test_odd_shapes_and_empties(tmp_path, bulk):
    rng = np.random.default_rng(3)
    tensors = {"odd": rng.standard_normal((7, 13, 3)).astype(np.float32),
               "e0": np.zeros((0,), np.float16), "e1": np.zeros((3, 0, 2), np.float64),
               "one": np.array([1.5], np.float32), "scalar": np.array(2.0, np.float64),
               "big": rng.standard_normal(300_001).astype(np.float16), "u8": np.arange(9, dtype=np.uint8)}
    from safetensors.numpy import save_file

    st = str(tmp_path / "odd.safetensors")
    save_file(tensors, st)
    zipweights.compress_file(st, st + ".zipw", chunk_size=4096)
    got = znp.load_file(st + ".zipw", threads=2)
    for k, v in tensors.items():
        assert got[k].shape == v.shape and got[k].dtype == v.dtype and got[k].tobytes() == v.tobytes(), k


def test_delta_file_loads_bit_exact(tmp_path, bulk, tiny_readahead):
    rng = np.random.default_rng(5)
    base = {"w": rng.standard_normal((256, 300)).astype(np.float32), "b": rng.standard_normal(300).astype(np.float32)}
    ft = {k: (v + np.float32(1e-3) * rng.standard_normal(v.shape).astype(np.float32)) for k, v in base.items()}
    ft["b"] = base["b"].copy()  # unchanged: coded as a copy of the base
    from safetensors.numpy import save_file

    bpath = str(tmp_path / "base.safetensors")
    save_file(base, bpath)
    znp.save_file(ft, tmp_path / "ft.safetensors.zipw", base=bpath)
    with zipweights.ZipwFile(tmp_path / "ft.safetensors.zipw") as zf:
        assert zf.index.base is not None
    got = znp.load_file(tmp_path / "ft.safetensors.zipw", base=bpath, threads=2)
    for k, v in ft.items():
        assert got[k].tobytes() == v.tobytes(), k


def test_output_cap_is_refused_before_allocation(mixed_files, bulk, monkeypatch):
    calls = []
    real = lazy._Wrapper.empty_many
    monkeypatch.setattr(lazy._Wrapper, "empty_many", lambda self, sizes: calls.append(sizes) or real(self, sizes))
    with zipweights.ZipwFile(mixed_files["zipw"]) as zf:
        total = sum(e.length for e in zf.entries)
    with pytest.raises(LimitExceededError):
        znp.load_file(mixed_files["zipw"], max_output_size=total - 1)
    assert calls == []
    assert len(znp.load_file(mixed_files["zipw"], max_output_size=total)) > 0 and len(calls) == 1


def test_readahead_stops_and_tolerates_a_closed_map(tmp_path):
    import mmap

    p = tmp_path / "f"
    p.write_bytes(b"x" * (3 << 20))
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    with _mapped.ReadAhead(m, 0, len(m)) as ra:  # under one window: no thread
        assert ra._thread is None
    ra = _mapped.ReadAhead(m, 100, len(m) + (20 << 20), position=lambda: 0)  # past the map's end, never caught up
    ra.close()  # stops although the decode never moved
    assert not ra._thread.is_alive()
    m.close()
    ra = _mapped.ReadAhead(m, 0, 64 << 20)  # a closed map: the thread ends quietly
    ra.close()


def test_only_empty_tensors(tmp_path, bulk):
    from safetensors.numpy import save_file

    st = str(tmp_path / "empty.safetensors")
    save_file({"a": np.zeros((0, 3), np.float32), "b": np.zeros(0, np.int8)}, st)
    zipweights.compress_file(st, st + ".zipw")
    got = znp.load_file(st + ".zipw")
    assert {k: (v.shape, v.dtype) for k, v in got.items()} == {"a": ((0, 3), np.float32), "b": ((0,), np.int8)}
