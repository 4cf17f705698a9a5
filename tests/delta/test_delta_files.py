"""Delta files: a fine-tune (or a checkpoint) coded against its base model, byte for byte.

Real weights (MiniLM, cast to bf16 / fp16, and a fine-tune made as the corpus makes
its pairs), every dtype on random data with the awkward values, the reference
entries (BASE, COPY), and every way a base can be wrong or missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct

import numpy as np
import pytest
import xxhash

import zipweights
import zipweights.numpy as znp
from zipweights import basemodel
from zipweights.codec import delta
from zipweights.errors import BaseMismatchError, BaseNotFoundError, CorruptDataError, InvalidArgumentError
from zipweights.format import index as fmt_index, limits
from zipweights.reader import ZipwFile


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _finetune(src: str, dst: str, seed: int = 1234, scale: float = 1e-3) -> None:
    """The corpus recipe: every float tensor + scale * std * noise, cast back."""
    import torch
    from safetensors.torch import load_file, save_file

    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in load_file(src).items():
        if v.is_floating_point():
            w = v.to(torch.float32)
            out[k] = (w + scale * w.std() * torch.randn(w.shape, generator=g)).to(v.dtype)
        else:
            out[k] = v
    save_file(out, dst, metadata={"made_by": "zipweights delta tests"})


@pytest.fixture(scope="module")
def pairs(real_weights, tmp_path_factory):
    """{label: (base path, fine-tune path)} of real weights in bf16, fp16 and fp32."""
    d = tmp_path_factory.mktemp("pairs")
    out = {}
    for label in ("bf16", "fp16", "fp32"):
        base = str(d / f"base-{label}.safetensors")
        shutil.copyfile(real_weights[label], base)
        ft = str(d / f"ft-{label}.safetensors")
        _finetune(base, ft)
        out[label] = (base, ft)
    return out


def _codecs(path) -> dict:
    with ZipwFile(path) as zf:
        out = {}
        for e in zf.entries:
            for c in e.chunks["codec"]:
                out[delta.NAMES[int(c)]] = out.get(delta.NAMES[int(c)], 0) + 1
        return out


@pytest.mark.parametrize("label", ["bf16", "fp16", "fp32"])
def test_real_finetune_restores_byte_for_byte_and_is_far_smaller(pairs, tmp_path, label):
    base, ft = pairs[label]
    alone = zipweights.compress_file(ft, str(tmp_path / "alone.zipw"), threads=2)
    dst = str(tmp_path / "ft.safetensors.zipw")
    stats = zipweights.compress_file(ft, dst, base=base, threads=2)
    # in bf16 / fp16 a light fine-tune keeps ~3/4 of its values: the delta is a fraction of
    # the file alone; in fp32 every value moves, by ~2^13 units in the last place
    assert stats.compressed_size < (0.7 if label == "fp32" else 0.45) * alone.compressed_size, (stats.ratio, alone.ratio)
    assert "delta" in _codecs(dst)
    with ZipwFile(dst) as zf:
        assert zf.version == 2 and zf.base_record.sha256.hex() == _sha(base)
        assert zf.base_record.location == {"path": os.path.relpath(base, str(tmp_path)).replace(os.sep, "/")}
    for threads in (1, 2):
        back = zipweights.decompress_file(dst, str(tmp_path / f"back{threads}"), base=base, threads=threads)
        assert _sha(back) == _sha(ft)
    zipweights.verify_file(dst, base=base)


def test_bf16_pair_meets_the_size_target(pairs, tmp_path):
    """Issue #12's target: at most 0.100 of the fine-tune file."""
    base, ft = pairs["bf16"]
    stats = zipweights.compress_file(ft, str(tmp_path / "ft.zipw"), base=base)
    assert stats.ratio <= 0.100, stats.ratio


def test_base_found_by_its_recorded_relative_path(pairs, tmp_path):
    base, ft = pairs["bf16"]
    (tmp_path / "models" / "base").mkdir(parents=True)
    (tmp_path / "models" / "ft").mkdir()
    b = str(tmp_path / "models" / "base" / "model.safetensors")
    shutil.copyfile(base, b)
    dst = str(tmp_path / "models" / "ft" / "model.safetensors.zipw")
    zipweights.compress_file(ft, dst, base=b)
    with ZipwFile(dst) as zf:
        assert zf.base_record.location["path"] == "../base/model.safetensors"
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "models", moved)  # the pair moves together: still found
    back = zipweights.decompress_file(str(moved / "ft" / "model.safetensors.zipw"), str(tmp_path / "back"))
    assert _sha(back) == _sha(ft)


def test_load_file_and_safe_open_take_base_in_every_form(pairs, tmp_path):
    base, ft = pairs["bf16"]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base)
    want = {k: v.tobytes() for k, v in znp.load_file(ft).items()}
    zbase = str(tmp_path / "base.zipw")
    zipweights.compress_file(base, zbase)
    with ZipwFile(zbase) as zf, zipweights.safe_open(zbase, "np") as handle:
        forms = [base, zbase, zf, handle, znp.load_file(base)]
        for form in forms:
            got = znp.load_file(dst, base=form)
            assert {k: v.tobytes() for k, v in got.items()} == want, type(form)
    with zipweights.safe_open(dst, "np", base=base) as f:
        for k in list(f.keys())[:5]:
            assert f.get_tensor(k).tobytes() == want[k]
            assert f.get_slice(k)[...].tobytes() == want[k]


def test_torch_load_file_with_base(pairs, tmp_path):
    torch = pytest.importorskip("torch")
    import zipweights.torch as zt
    from safetensors.torch import load_file

    base, ft = pairs["bf16"]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base)
    want = load_file(ft)
    got = zt.load_file(dst, base=load_file(base))  # a state dict as the base
    assert set(got) == set(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k].view(torch.uint8), want[k].view(torch.uint8))


class _CountingBase(basemodel.TensorsBase):
    """A real base (tensors in memory) that records which tensors were read."""

    def __init__(self, tensors):
        super().__init__(tensors)
        self.names = set()

    def read(self, name, a, b):
        self.names.add(name)
        return super().read(name, a, b)


def test_one_tensor_reads_only_its_base_tensor(pairs, tmp_path):
    base, ft = pairs["bf16"]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base, chunk_size=1 << 16)
    want = znp.load_file(ft)
    name = "encoder.layer.3.attention.self.query.weight"
    counting = _CountingBase(znp.load_file(base))
    with zipweights.safe_open(dst, "np", base=counting) as f:
        assert f.get_tensor(name).tobytes() == want[name].tobytes()
    assert counting.names == {name}


def test_tensors_without_a_base_tensor_decode_without_the_base(pairs, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    base, ft = pairs["bf16"]
    tensors = load_file(ft)
    tensors["adapter.weight"] = torch.arange(4096, dtype=torch.float32).to(torch.bfloat16)  # new in the fine-tune
    ft = str(tmp_path / "ft.safetensors")
    save_file(tensors, ft)
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base)
    os.rename(base, base + ".away")
    try:
        with zipweights.safe_open(dst, "np") as f:
            with ZipwFile(dst) as zf:
                alone = [e.name for e in zf.entries if e.transform == fmt_index.TRANSFORM_NONE]
                coded = [e.name for e in zf.entries if e.transform == fmt_index.TRANSFORM_BASE]
            assert coded and alone == ["adapter.weight"]
            for name in alone:  # nothing to look for
                f.get_tensor(name)
            with pytest.raises(BaseNotFoundError, match="needs its base model"):
                f.get_tensor(coded[0])
    finally:
        os.rename(base + ".away", base)


# -- the awkward values, every dtype ------------------------------------------------------------
_SPECIAL16 = np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7FC1, 0xFFFF, 0x0001, 0x8001, 0x7F7F, 0x0080],
                      np.uint16)


def _random_pair(rng, dtype_name: str, shape):
    from zipweights import dtypes

    dt = dtypes.BY_NAME[dtype_name]
    n = int(np.prod(shape)) if len(shape) else 1
    nbytes = dt.nbytes(n)
    base = rng.integers(0, 256, nbytes, dtype=np.uint8)
    if dt.unit == 2 and nbytes >= 2 * len(_SPECIAL16):
        base.view(np.uint16)[: len(_SPECIAL16)] = _SPECIAL16
    ft = base.copy()
    flip = rng.random(nbytes) < 0.2  # a fifth of the bytes changed: some values differ in low bits only
    ft[flip] ^= rng.integers(1, 256, int(flip.sum()), dtype=np.uint8) & 0x07
    if nbytes >= 16:
        ft[-8:] = rng.integers(0, 256, 8, dtype=np.uint8)  # and a few arbitrary changes
    return base, ft


def _write_st(path, tensors):
    """A safetensors file from {name: (dtype name, shape, bytes)}, with safetensors' own writer."""
    from zipweights.writer import source_from_tensors

    items = [(n, d, s, memoryview(b)) for n, (d, s, b) in tensors.items()]
    src = source_from_tensors(items, None)
    with open(path, "wb") as f:
        f.write(src.prefix)
        for e in src.entries:
            f.write(e.data)


@pytest.mark.parametrize("dtype_name", ["BF16", "F16", "F32", "F64", "C64", "I8", "U8", "I16", "I32", "I64",
                                        "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0"])
def test_every_dtype_restores_exactly(tmp_path, dtype_name):
    rng = np.random.default_rng(sum(dtype_name.encode()))
    shapes = [(0,), (1,), (3, 5), (2000,), (257, 129), (40000,)]
    bt, ft = {}, {}
    for i, shape in enumerate(shapes):
        b, f = _random_pair(rng, dtype_name, shape)
        if dtype_name == "BOOL":
            b, f = b & 1, f & 1
        bt[f"t{i}"] = (dtype_name, shape, b.tobytes())
        ft[f"t{i}"] = (dtype_name, shape, f.tobytes())
    ft["same"] = bt["same"] = (dtype_name, (5000,), bt["t5"][2][:5000 * len(bt["t5"][2]) // 40000])
    bp, fp = str(tmp_path / "b.safetensors"), str(tmp_path / "f.safetensors")
    _write_st(bp, bt)
    _write_st(fp, ft)
    dst = str(tmp_path / "f.zipw")
    for level in (1, 3, 7):
        zipweights.compress_file(fp, dst, base=bp, level=level, chunk_size=1 << 14, force=True)
        assert _sha(zipweights.decompress_file(dst, str(tmp_path / "back"), base=bp, force=True)) == _sha(fp)
    with ZipwFile(dst) as zf:
        same = zf.tensor("same")
        assert set(same.chunks["codec"]) == {delta.BASE} and set(same.chunks["length"]) == {0}


def test_identical_file_costs_only_its_index(pairs, tmp_path):
    base, _ = pairs["bf16"]
    dst = str(tmp_path / "same.zipw")
    stats = zipweights.compress_file(base, dst, base=base)
    assert set(_codecs(dst)) == {"base"}
    assert stats.compressed_size < 64 * 1024  # header, index and trailer only
    assert _sha(zipweights.decompress_file(dst, str(tmp_path / "back"), base=base)) == _sha(base)


def test_repeated_tensors_in_one_file_are_stored_once(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.standard_normal(300_000).astype(np.float32).tobytes()
    other = rng.standard_normal(1000).astype(np.float32).tobytes()
    p = str(tmp_path / "tied.safetensors")
    _write_st(p, {"embed": ("F32", (300_000,), w), "lm_head": ("F32", (300_000,), w), "x": ("F32", (1000,), other)})
    one = str(tmp_path / "one.safetensors")
    _write_st(one, {"embed": ("F32", (300_000,), w), "x": ("F32", (1000,), other)})
    tied = zipweights.compress_file(p, str(tmp_path / "tied.zipw"))
    single = zipweights.compress_file(one, str(tmp_path / "one.zipw"))
    assert tied.compressed_size < single.compressed_size + 4096
    with ZipwFile(str(tmp_path / "tied.zipw")) as zf:
        assert zf.version == 2
        copies = [e.name for e in zf.entries if set(e.chunks["codec"]) == {delta.COPY}]
        assert len(copies) == 1
    assert _sha(zipweights.decompress_file(str(tmp_path / "tied.zipw"), str(tmp_path / "back"))) == _sha(p)
    got = znp.load_file(str(tmp_path / "tied.zipw"))
    assert got["embed"].tobytes() == got["lm_head"].tobytes() == w


def test_files_without_base_or_repeats_stay_version_1(real_weights, tmp_path):
    dst = str(tmp_path / "plain.zipw")
    zipweights.compress_file(real_weights["bf16"], dst)
    with open(dst, "rb") as f:
        assert struct.unpack_from("<H", f.read(10), 8)[0] == 1


# -- wrong and missing bases -----------------------------------------------------------------------
def test_wrong_base_names_both_hashes_and_leaves_nothing(pairs, tmp_path):
    base, ft = pairs["bf16"]
    other = pairs["fp16"][0]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base)
    out = str(tmp_path / "out.safetensors")
    for wrong in (ft, other):  # same layout (caught by a chunk) and another file (caught at once)
        with pytest.raises(BaseMismatchError) as ei:
            zipweights.decompress_file(dst, out, base=wrong)
        assert _sha(base) in str(ei.value) and _sha(wrong) in str(ei.value)
        assert not os.path.exists(out) and os.listdir(tmp_path) == ["ft.zipw"]
    with pytest.raises(BaseMismatchError):
        znp.load_file(dst, base=znp.load_file(ft))


def test_missing_base_says_where_it_looked(pairs, tmp_path):
    base, ft = pairs["bf16"]
    b = str(tmp_path / "base.safetensors")
    shutil.copyfile(base, b)
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=b)
    os.remove(b)
    with pytest.raises(BaseNotFoundError) as ei:
        zipweights.decompress_file(dst, str(tmp_path / "out"))
    assert b in str(ei.value) and _sha(base) in str(ei.value)
    assert os.listdir(tmp_path) == ["ft.zipw"]
    with pytest.raises(BaseNotFoundError):
        zipweights.decompress_file(dst, str(tmp_path / "out"), base=str(tmp_path / "nowhere.safetensors"))


def test_base_of_other_layout_is_refused(pairs, tmp_path):
    base, ft = pairs["bf16"]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base)
    tensors = znp.load_file(base)
    name = next(iter(k for k in tensors if tensors[k].ndim == 2 and tensors[k].shape[0] > 1))
    tensors[name] = tensors[name][:1]
    with pytest.raises(BaseMismatchError, match="this file needs"):
        znp.load_file(dst, base=tensors)


def test_a_base_for_a_file_coded_alone_is_refused(real_weights, tmp_path):
    dst = str(tmp_path / "plain.zipw")
    zipweights.compress_file(real_weights["bf16"], dst)
    with pytest.raises(InvalidArgumentError, match="not coded against one"):
        znp.load_file(dst, base=real_weights["bf16"])


# -- chains: checkpoints against checkpoints ------------------------------------------------------
def _chain(tmp_path, n: int, size: int = 5000):
    rng = np.random.default_rng(9)
    w = rng.standard_normal(size).astype(np.float32)
    paths = []
    for k in range(n):
        w = w + 1e-3 * rng.standard_normal(size).astype(np.float32)
        p = str(tmp_path / f"step{k}.safetensors")
        _write_st(p, {"w": ("BF16", (size,), w.astype(np.float32).view(np.uint32).__rshift__(16).astype(np.uint16).tobytes())})
        paths.append(p)
    zpaths = [str(tmp_path / "step0.safetensors.zipw")]
    zipweights.compress_file(paths[0], zpaths[0])
    for k in range(1, n):
        zpaths.append(str(tmp_path / f"step{k}.safetensors.zipw"))
        zipweights.compress_file(paths[k], zpaths[k], base=zpaths[k - 1])
    return paths, zpaths


def test_a_chain_of_checkpoints_restores_each(tmp_path):
    paths, zpaths = _chain(tmp_path, 4)
    for k in range(4):
        os.remove(paths[k])
    for k in range(4):
        back = zipweights.decompress_file(zpaths[k], str(tmp_path / f"back{k}"))
        with ZipwFile(zpaths[k]) as zf:
            assert _sha(back) == zf.original_sha256
        if k:
            with ZipwFile(zpaths[k]) as zf:
                assert zf.base_record.location == {"path": f"step{k - 1}.safetensors.zipw"}


def test_a_chain_deeper_than_the_limit_is_refused(tmp_path):
    n = limits.MAX_BASE_DEPTH + 2
    _, zpaths = _chain(tmp_path, n, size=600)
    with pytest.raises(zipweights.LimitExceededError, match="deeper than"):
        zipweights.decompress_file(zpaths[-1], str(tmp_path / "back"))
    zipweights.decompress_file(zpaths[limits.MAX_BASE_DEPTH - 1], str(tmp_path / "ok"))


def test_a_chain_that_loops_is_refused(tmp_path, craft):
    """step1 is coded against step0; step0 is edited to name step1 as its own base."""
    _, zpaths = _chain(tmp_path, 2, size=600)
    with ZipwFile(zpaths[1]) as z1:
        sha1 = bytes.fromhex(z1.original_sha256)
    with ZipwFile(zpaths[0]) as z0:
        sha0 = bytes.fromhex(z0.original_sha256)
    # step0 becomes a "delta" of step1: a base record naming step1 (its sha256, its path)
    data = open(zpaths[1], "rb").read()
    data = data.replace(sha0, sha1)  # step1's record now names itself: the simplest loop
    looped = str(tmp_path / "looped.zipw")
    blob_start = struct.unpack_from("<Q", data, len(data) - 32)[0]
    blob = data[blob_start:-32]
    data = data[:-16] + struct.pack("<Q", xxhash.xxh3_64_intdigest(blob)) + data[-8:]
    with open(looped, "wb") as f:
        f.write(data)
    shutil.copyfile(looped, str(tmp_path / "step0.safetensors.zipw"))  # where its record points
    with pytest.raises(BaseMismatchError, match="loops"):
        zipweights.decompress_file(looped, str(tmp_path / "back"))


# -- hostile base records -----------------------------------------------------------------------------
def test_hostile_base_records_are_refused(pairs, tmp_path):
    base, ft = pairs["bf16"]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base, chunk_size=1 << 22)
    good = open(dst, "rb").read()
    ioff, ilen = struct.unpack_from("<QQ", good, len(good) - 32)
    blob = good[ioff : ioff + ilen]
    (plen,) = struct.unpack_from("<Q", blob, 48)
    rec = 56 + plen  # the base record follows the prefix
    (loc_len,) = struct.unpack_from("<I", blob, rec + 48)

    def with_blob(new):
        return good[:ioff] + new + struct.pack("<QQQ8s", ioff, len(new), xxhash.xxh3_64_intdigest(new), b"ZIPWIDX\0")

    cases = [
        (blob[: rec + 48] + struct.pack("<I", limits.MAX_LOCATION_SIZE + 1) + blob[rec + 52 :], "exceeds"),
        (blob[: rec + 48] + struct.pack("<I", limits.MAX_LOCATION_SIZE) + blob[rec + 52 :], "not a JSON object|truncated"),
        (blob[: rec + 52] + b"[" + blob[rec + 53 :], "not a JSON object"),
        (blob[:41] + b"\x02" + blob[42:], "base flag"),
    ]
    for bad, message in cases:
        with pytest.raises(zipweights.ZipWeightsError, match=message):
            ZipwFile(with_blob(bad))
    # a version-1 header over a file with a base record: corrupt
    v1 = good[:8] + struct.pack("<H", 1) + good[10:]
    with pytest.raises(CorruptDataError):
        ZipwFile(v1)


def test_recorded_absolute_paths_are_not_followed(pairs, tmp_path):
    base, ft = pairs["bf16"]
    dst = str(tmp_path / "ft.zipw")
    zipweights.compress_file(ft, dst, base=base, base_location={"path": os.path.abspath(base)})
    with pytest.raises(BaseNotFoundError):
        zipweights.decompress_file(dst, str(tmp_path / "out"))
    assert _sha(zipweights.decompress_file(dst, str(tmp_path / "out"), base=base)) == _sha(ft)


def test_save_file_of_a_checkpoint_against_the_one_before(tmp_path):
    torch = pytest.importorskip("torch")
    import zipweights.torch as zt

    g = torch.Generator().manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8)).to(torch.bfloat16)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    saved = []
    for step in range(3):
        for _ in range(5):
            x = torch.randn(32, 64, generator=g).to(torch.bfloat16)
            loss = model(x).float().pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        path = str(tmp_path / f"step{step}.safetensors.zipw")
        zt.save_file(state, path, base=saved[-1][0] if saved else None)
        saved.append((path, state))
    with ZipwFile(saved[2][0]) as zf:
        assert zf.base_record.location == {"path": "step1.safetensors.zipw"}
    for path, state in saved:
        got = zt.load_file(path)
        for k, v in state.items():
            assert torch.equal(got[k].view(torch.uint8), v.view(torch.uint8))
    data = zt.save(saved[2][1], base=saved[1][0])  # bytes: the location is relative to the current folder
    assert zt.load(data, base=saved[1][0]).keys() == saved[2][1].keys()
