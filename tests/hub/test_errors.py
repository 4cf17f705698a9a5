"""Corrupt, truncated and interrupted downloads leave nothing under the cache's final names."""

from __future__ import annotations

import os

import pytest
from helpers import compressed, make_weights

import zipweights
from zipweights import hub as zhub


@pytest.fixture(scope="module")
def bad_repos(hub, tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    w = d / "model.safetensors"
    make_weights(w, seed=7)
    z = open(compressed(w), "rb").read()
    flipped = bytearray(z)
    flipped[200] ^= 0x55  # inside the first chunk payload
    (d / "flipped.zipw").write_bytes(bytes(flipped))
    (d / "short.zipw").write_bytes(z[: len(z) // 2])
    hub.commit("bad/flipped", {"model.safetensors.zipw": str(d / "flipped.zipw")})
    hub.commit("bad/truncated", {"model.safetensors.zipw": str(d / "short.zipw")})
    hub.commit("bad/fine", {"model.safetensors.zipw": compressed(w)})
    return d


def _files(cache):
    out = []
    for root, dirs, files in os.walk(cache):
        out += [os.path.relpath(os.path.join(root, f), cache) for f in files]
    return out


@pytest.mark.parametrize("repo, kind", [("bad/flipped", zipweights.CorruptDataError),
                                        ("bad/truncated", zipweights.TruncatedDataError)])
def test_corrupt_zipw_raises_naming_repo_and_file(hf_env, bad_repos, repo, kind):
    with pytest.raises(kind) as info:
        zhub.hf_hub_download(repo, "model.safetensors")
    err = info.value
    assert isinstance(err, zhub.HubRestoreMixin)
    assert err.repo_id == repo and err.filename == "model.safetensors.zipw"
    assert repo in str(err) and "model.safetensors.zipw" in str(err)
    left = [f for f in _files(hf_env) if "/blobs/" in f or "/snapshots/" in f or f.startswith(".zipw-tmp")]
    assert left == [], left
    with pytest.raises(kind):
        zhub.snapshot_download(repo)
    assert not [f for f in _files(hf_env) if "/snapshots/" in f and f.endswith(".safetensors")]


def test_interrupted_download_leaves_no_half_file(hf_env, bad_repos, monkeypatch):
    from huggingface_hub import file_download

    real = file_download.http_get

    def cut(url, temp_file, *a, **k):
        temp_file.write(b"\x89ZIPW\r\n\x1a partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(file_download, "http_get", cut)
    with pytest.raises(KeyboardInterrupt):
        zhub.hf_hub_download("bad/fine", "model.safetensors")
    left = [f for f in _files(hf_env) if not f.startswith(".locks") and "/refs/" not in f
            and "/.no_exist/" not in f and not f.endswith("CACHEDIR.TAG")]
    assert left == [], left  # no blob, no snapshot entry, no temporary cache
    monkeypatch.setattr(file_download, "http_get", real)
    path = zhub.hf_hub_download("bad/fine", "model.safetensors")
    assert os.path.getsize(path) > 0
