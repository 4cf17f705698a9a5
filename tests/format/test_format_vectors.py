"""Golden vectors (spec/vectors): every .zipw decodes to exactly its original, and
where the manifest says so (STORE / RAW-plane chunks only) re-encoding reproduces the
.zipw byte for byte. See spec/vectors/README.md."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os

import pytest

import zipweights

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "spec", "vectors")


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_vectors", os.path.join(VECTORS, "make_vectors.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKER = _load_maker()
with open(os.path.join(VECTORS, "manifest.json")) as _f:
    MANIFEST = json.load(_f)
ENTRIES = MANIFEST["vectors"]


def _read(name) -> bytes:
    with open(os.path.join(VECTORS, name), "rb") as f:
        return f.read()


def test_manifest_lists_the_expected_vectors():
    assert [v["name"] for v in ENTRIES] == [
        "bf16_specials", "f32_basic", "mixed_int_bool_f8", "raw_bf16_hint", "bf16_sign_runs"
    ]
    assert any(v["reencode_exact"] for v in ENTRIES) and not all(v["reencode_exact"] for v in ENTRIES)
    for v in ENTRIES:
        assert 100 <= v["zipw_size"] <= 8192


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_manifest_hashes(v):
    orig, z = _read(v["original"]), _read(v["zipw"])
    assert (len(orig), hashlib.sha256(orig).hexdigest()) == (v["original_size"], v["original_sha256"])
    assert (len(z), hashlib.sha256(z).hexdigest()) == (v["zipw_size"], v["zipw_sha256"])


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_vector_decodes_exactly(v, tmp_path):
    orig = _read(v["original"])
    path = os.path.join(VECTORS, v["zipw"])
    with zipweights.ZipwFile(path) as zf:
        assert zf.original_sha256 == v["original_sha256"]
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=2)
        assert bytes(out) == orig
        zf.verify(threads=1)
    dst = zipweights.decompress_file(path, tmp_path / v["original"])
    assert hashlib.sha256(open(dst, "rb").read()).hexdigest() == v["original_sha256"]


def test_sign_runs_vector_uses_sign_contexts():
    # the vector exists to pin float payload mode 2 (contexts split by sign)
    from zipweights.codec import chain

    z = _read("bf16_sign_runs.safetensors.zipw")
    with zipweights.ZipwFile(z) as zf:
        (row,) = zf.tensor("conv.weight").chunks
    assert int(row["codec"]) == chain.FLOAT
    assert z[int(row["offset"]) + 1] == 2


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_reencode_flag_is_honest(v):
    assert MAKER.reproducible(_read(v["zipw"])) == v["reencode_exact"]


@pytest.mark.parametrize("v", [v for v in ENTRIES if v["reencode_exact"]], ids=lambda v: v["name"])
@pytest.mark.parametrize("threads", [1, 2])
def test_reencode_is_byte_exact(v, threads):
    import io

    from zipweights import writer

    orig = _read(v["original"])
    s = v["settings"]
    source = (writer.source_from_bytes(orig, s["dtype_hint"]) if s.get("dtype_hint")
              else writer.source_from_safetensors(orig))
    out = io.BytesIO()
    writer.write(source, out, threads=threads, level=s["level"], chunk_size=s["chunk_size"])
    assert out.getvalue() == _read(v["zipw"])


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_generator_still_makes_the_same_originals(v):
    made = {m["name"]: m["original"] for m in MAKER.vectors()}
    assert made[v["name"]] == _read(v["original"])


@pytest.mark.parametrize("name", ["bf16_specials", "f32_basic"])
def test_originals_are_real_safetensors(name):
    # (mixed_int_bool_f8 holds an unknown dtype name, which the safetensors package refuses)
    import torch
    from safetensors import safe_open

    v = next(v for v in ENTRIES if v["name"] == name)
    path = os.path.join(VECTORS, v["original"])
    with zipweights.ZipwFile(os.path.join(VECTORS, v["zipw"])) as zf, safe_open(path, "pt") as f:
        assert set(f.keys()) == {e.name for e in zf.entries}
        for name in f.keys():
            t = f.get_tensor(name)
            assert t.contiguous().view(-1).view(torch.uint8).numpy().tobytes() == bytes(zf.read_bytes(name))
