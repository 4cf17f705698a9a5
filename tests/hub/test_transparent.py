"""Transparent mode: unchanged huggingface_hub / transformers code on compressed repos."""

from __future__ import annotations

import importlib
import os
import sys

import pytest
from helpers import compressed, make_weights

import huggingface_hub
from huggingface_hub import HfApi, file_download, hf_api

from zipweights import hub as zhub


def _state():
    snap = importlib.import_module("huggingface_hub._snapshot_download")
    mods = [huggingface_hub, file_download, hf_api, snap]
    th = sys.modules.get("transformers.utils.hub")
    if th is not None:
        mods.append(th)
    return [dict(m.__dict__) for m in mods] + [dict(HfApi.__dict__)]


@pytest.fixture(scope="module")
def packed(hub, tmp_path_factory):
    d = tmp_path_factory.mktemp("tp")
    w = d / "model.safetensors"
    sha = make_weights(w, seed=3)
    hub.commit("tp/packed", {"model.safetensors.zipw": compressed(w), "config.json": b"{}"})
    return sha


@pytest.fixture
def enabled():
    zhub.enable()
    try:
        yield
    finally:
        zhub.disable()


def test_enable_disable_restore_exactly():
    zhub.enable()  # first, so that modules it imports (a side effect, not a patch) are there before
    zhub.disable()
    before = _state()
    meta_path = list(sys.meta_path)
    zhub.enable()
    zhub.enable()  # idempotent
    assert zhub.is_enabled()
    assert huggingface_hub.hf_hub_download is zhub.hf_hub_download
    zhub.disable()
    zhub.disable()
    after = _state()
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert b.keys() == a.keys()
        for k in b:
            assert b[k] is a[k] or b[k] == a[k], k
    assert len(sys.meta_path) == len(meta_path) and all(a is b for a, b in zip(sys.meta_path, meta_path))


def test_unchanged_huggingface_hub_calls(hf_env, packed, enabled, sha256_file):
    p = huggingface_hub.hf_hub_download("tp/packed", "model.safetensors")
    assert sha256_file(p) == packed
    assert HfApi().hf_hub_download("tp/packed", "model.safetensors") == p
    assert file_download.hf_hub_download("tp/packed", "model.safetensors") == p
    folder = HfApi().snapshot_download("tp/packed")
    assert sorted(os.listdir(folder)) == [".gitattributes", "config.json", "model.safetensors"]
    assert huggingface_hub.snapshot_download("tp/packed", allow_patterns="*.safetensors") == folder


def test_disabled_is_huggingface_hub_itself(hf_env, packed):
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    with pytest.raises((EntryNotFoundError, RepositoryNotFoundError)):
        huggingface_hub.hf_hub_download("tp/packed", "model.safetensors")


def test_modules_imported_after_enable_are_rebound(tmp_path, monkeypatch):
    pkg = tmp_path / "zipw_fake_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "hubutil.py").write_text("from huggingface_hub import hf_hub_download, snapshot_download\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from zipweights.hub import transparent

    monkeypatch.setattr(transparent, "REBIND_PACKAGES", transparent.REBIND_PACKAGES + ("zipw_fake_pkg",))
    zhub.enable()
    try:
        mod = importlib.import_module("zipw_fake_pkg.hubutil")
        assert mod.hf_hub_download is zhub.hf_hub_download
        assert mod.snapshot_download is zhub.snapshot_download
        assert mod.__loader__.get_source("zipw_fake_pkg.hubutil").startswith("from huggingface_hub")
    finally:
        zhub.disable()
    assert mod.hf_hub_download is huggingface_hub.file_download.hf_hub_download
    for name in ("zipw_fake_pkg.hubutil", "zipw_fake_pkg"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def tiny_model(hub, tmp_path_factory):
    """A tiny BERT built from a config (random weights), saved, its safetensors compressed
    with zipw, and served as a repo holding config.json + model.safetensors.zipw only."""
    pytest.importorskip("transformers")
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=64)
    model = BertModel(cfg).eval()
    d = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(d)
    assert (d / "model.safetensors").exists()
    hub.commit("tf/tiny", {"config.json": str(d / "config.json"),
                           "model.safetensors.zipw": compressed(d / "model.safetensors")})
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def tiny_sharded(hub, tmp_path_factory, tiny_model):
    """The same tiny BERT saved in shards (index JSON kept as is, shards compressed)."""
    from transformers import BertConfig, BertModel

    d = tmp_path_factory.mktemp("tiny_sharded")
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=64)
    model = BertModel(cfg)
    model.load_state_dict(tiny_model)
    model.save_pretrained(d, max_shard_size="30KB")
    files = {}
    for name in os.listdir(d):
        if name.endswith(".safetensors"):
            files[name + ".zipw"] = compressed(d / name)
        else:
            files[name] = str(d / name)
    assert "model.safetensors.index.json" in files and len(files) >= 4
    hub.commit("tf/tiny-sharded", files)
    return d


def test_transformers_from_pretrained_sharded(hf_env, tiny_model, tiny_sharded, enabled, sha256_file):
    import torch
    from transformers import AutoModel

    got = AutoModel.from_pretrained("tf/tiny-sharded").state_dict()
    assert all(torch.equal(got[k], v) for k, v in tiny_model.items())
    snap = os.path.dirname(huggingface_hub.hf_hub_download("tf/tiny-sharded", "model.safetensors.index.json"))
    assert open(os.path.join(snap, "model.safetensors.index.json"), "rb").read() == \
        (tiny_sharded / "model.safetensors.index.json").read_bytes()
    for name in os.listdir(tiny_sharded):
        if name.endswith(".safetensors"):
            assert sha256_file(os.path.join(snap, name)) == sha256_file(tiny_sharded / name)


def test_transformers_from_pretrained(hf_env, tiny_model, enabled):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained("tf/tiny")
    got = model.state_dict()
    assert got.keys() == tiny_model.keys()
    for k, v in tiny_model.items():
        assert torch.equal(got[k], v), k
    # the second time from the cache, offline
    from huggingface_hub import constants

    old = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        again = AutoModel.from_pretrained("tf/tiny", local_files_only=True)
    finally:
        constants.HF_HUB_OFFLINE = old
    assert all(torch.equal(again.state_dict()[k], v) for k, v in tiny_model.items())


def test_global_switch_turns_the_hub_filters_on_and_off(hf_env, packed, sha256_file):
    import zipweights

    zipweights.enable()
    try:
        assert zhub.is_enabled()
        assert sha256_file(huggingface_hub.hf_hub_download("tp/packed", "model.safetensors")) == packed
    finally:
        zipweights.disable()
    assert not zhub.is_enabled()
    assert huggingface_hub.hf_hub_download is zhub.download.ORIG_HF_HUB_DOWNLOAD
