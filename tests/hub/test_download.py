"""Download filter against olah on loopback: hf_hub_download / snapshot_download."""

from __future__ import annotations

import os

import pytest
from helpers import compressed, make_weights, sharded

import huggingface_hub
from huggingface_hub import constants
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

from zipweights import hub as zhub


@pytest.fixture(scope="module")
def repos(hub, tmp_path_factory):
    """org/plain: model.safetensors as is; org/packed: only model.safetensors.zipw;
    org/sharded: two compressed shards + the index JSON; org/both: plain and .zipw."""
    d = tmp_path_factory.mktemp("src")
    w = d / "model.safetensors"
    sha = make_weights(w)
    z = compressed(w)
    shards = sharded(str(d))
    info = {"sha": sha, "weights": str(w), "zipw": z, "shards": shards}
    info["plain_commit"] = hub.commit("org/plain", {"config.json": b'{"x": 1}', "model.safetensors": str(w)})
    info["packed_commit"] = hub.commit("org/packed", {"config.json": b'{"x": 1}', "model.safetensors.zipw": z})
    files = {"model.safetensors.index.json": shards["model.safetensors.index.json"], "config.json": b"{}"}
    for name, p in shards.items():
        if name.endswith(".safetensors"):
            files[name + ".zipw"] = compressed(p)
    info["sharded_commit"] = hub.commit("org/sharded", files)
    info["both_commit"] = hub.commit("org/both", {"model.safetensors": str(w), "model.safetensors.zipw": z})
    return info


def _assert_clean(cache):
    for root, dirs, files in os.walk(cache):
        for name in files + dirs:
            assert not name.endswith(".zipw") and ".tmp" not in name and "incomplete" not in name, name


def _no_http_get(monkeypatch):
    """Fail the test if any file body is fetched (metadata HEADs are allowed)."""
    from huggingface_hub import file_download

    def boom(*a, **k):
        raise AssertionError("a file was downloaded")

    monkeypatch.setattr(file_download, "http_get", boom)
    monkeypatch.setattr(file_download, "xet_get", boom)


def test_plain_repo_is_served_as_huggingface_hub_serves_it(hf_env, repos, sha256_file):
    path = zhub.hf_hub_download("org/plain", "model.safetensors")
    assert path == huggingface_hub.hf_hub_download("org/plain", "model.safetensors")
    assert sha256_file(path) == repos["sha"]


def test_compressed_repo_restores_into_the_normal_cache(hf_env, repos, monkeypatch, sha256_file):
    path = zhub.hf_hub_download("org/packed", "model.safetensors")
    commit = repos["packed_commit"]
    storage = os.path.join(hf_env, "models--org--packed")
    assert path == os.path.join(storage, "snapshots", commit, "model.safetensors")
    assert os.path.islink(path)
    assert os.path.realpath(path) == os.path.join(storage, "blobs", repos["sha"])  # the plain file's LFS oid
    assert sha256_file(path) == repos["sha"]
    assert open(os.path.join(storage, "refs", "main")).read() == commit
    # nothing compressed or temporary left in the cache
    _assert_clean(hf_env)
    # a second call, local_files_only and offline mode: cache only, no file body fetched
    _no_http_get(monkeypatch)
    assert zhub.hf_hub_download("org/packed", "model.safetensors") == path
    assert zhub.hf_hub_download("org/packed", "model.safetensors", revision=commit) == path
    assert zhub.hf_hub_download("org/packed", "model.safetensors", local_files_only=True) == path
    # huggingface_hub itself finds it offline, as if the plain file had been downloaded
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert zhub.hf_hub_download("org/packed", "model.safetensors") == path
    assert huggingface_hub.hf_hub_download("org/packed", "model.safetensors") == path
    assert huggingface_hub.try_to_load_from_cache("org/packed", "model.safetensors", cache_dir=hf_env) == path


def test_other_files_and_missing_files(hf_env, repos):
    assert open(zhub.hf_hub_download("org/packed", "config.json")).read() == '{"x": 1}'
    with pytest.raises((EntryNotFoundError, RepositoryNotFoundError)):
        zhub.hf_hub_download("org/packed", "nothing.safetensors")
    with pytest.raises(RepositoryNotFoundError):
        zhub.hf_hub_download("org/absent", "model.safetensors")
    with pytest.raises(LocalEntryNotFoundError):
        zhub.hf_hub_download("org/packed", "model.safetensors", local_files_only=True)


def test_plain_file_wins_when_both_exist(hf_env, repos, sha256_file):
    path = zhub.hf_hub_download("org/both", "model.safetensors")
    assert sha256_file(path) == repos["sha"]
    assert not os.path.exists(os.path.join(hf_env, "models--org--both", ".zipw-etags"))


def test_local_dir(hf_env, repos, tmp_path, monkeypatch, sha256_file):
    dest = tmp_path / "local"
    path = zhub.hf_hub_download("org/packed", "model.safetensors", local_dir=dest)
    assert path == str(dest / "model.safetensors")
    assert sha256_file(path) == repos["sha"]
    assert not (dest / "model.safetensors.zipw").exists()
    _no_http_get(monkeypatch)
    assert zhub.hf_hub_download("org/packed", "model.safetensors", local_dir=dest) == path
    assert zhub.hf_hub_download("org/packed", "model.safetensors", local_dir=dest, local_files_only=True) == path


def test_snapshot_sharded(hf_env, repos, monkeypatch, sha256_file):
    folder = zhub.snapshot_download("org/sharded")
    assert folder == os.path.join(hf_env, "models--org--sharded", "snapshots", repos["sharded_commit"])
    names = sorted(os.listdir(folder))
    assert names == sorted([".gitattributes", "config.json", "model.safetensors.index.json",
                            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    shards = repos["shards"]
    for name, src in shards.items():  # shards restored, index JSON byte-identical
        assert sha256_file(os.path.join(folder, name)) == sha256_file(src)
    # offline: complete, no network
    _no_http_get(monkeypatch)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert zhub.snapshot_download("org/sharded") == folder
    assert zhub.snapshot_download("org/sharded", local_files_only=True, allow_patterns="*.safetensors") == folder


def test_snapshot_patterns_match_restored_names(hf_env, repos, tmp_path):
    folder = zhub.snapshot_download("org/sharded", allow_patterns=["*00001-of*", "*.json"])
    assert sorted(os.listdir(folder)) == sorted(["config.json", "model.safetensors.index.json",
                                                 "model-00001-of-00002.safetensors"])
    dest = tmp_path / "snap"
    out = zhub.snapshot_download("org/sharded", local_dir=dest, ignore_patterns="config.json")
    assert out == str(dest)
    got = sorted(p for p in os.listdir(dest) if not p.startswith("."))
    assert got == sorted(["model.safetensors.index.json", "model-00001-of-00002.safetensors",
                          "model-00002-of-00002.safetensors"])


def test_snapshot_plain_repo_unchanged(hf_env, repos):
    a = zhub.snapshot_download("org/plain")
    assert sorted(os.listdir(a)) == [".gitattributes", "config.json", "model.safetensors"]


def test_second_call_one_metadata_request_and_no_stale_no_exist_mark(hf_env, repos, monkeypatch):
    path = zhub.hf_hub_download("org/packed", "model.safetensors")
    commit = repos["packed_commit"]
    storage = os.path.join(hf_env, "models--org--packed")
    # the real Hub answers the plain file's HEAD with EntryNotFound, and huggingface_hub
    # then marks it as missing at this commit; transformers checks that mark first
    mark = os.path.join(storage, ".no_exist", commit, "model.safetensors")
    assert os.path.isdir(os.path.dirname(mark)) and not os.path.exists(mark)  # made, then removed
    open(mark, "w").close()
    calls = []
    from huggingface_hub import file_download

    real = huggingface_hub.get_hf_file_metadata

    def counting(*a, **k):
        calls.append(k.get("url", a[0] if a else None))
        return real(*a, **k)

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", counting)
    monkeypatch.setattr(file_download, "get_hf_file_metadata", counting)
    _no_http_get(monkeypatch)
    assert zhub.hf_hub_download("org/packed", "model.safetensors") == path
    assert len(calls) == 1 and calls[0].endswith("model.safetensors.zipw"), calls
    assert not os.path.exists(mark)
    assert huggingface_hub.try_to_load_from_cache("org/packed", "model.safetensors", cache_dir=hf_env,
                                                  revision=commit) == path


def test_mirror_that_answers_missing_files_with_repo_not_found(hf_env, hub, repos, sha256_file):
    """olah's own answer for a missing file is RepositoryNotFoundError: the .zipw is still found."""
    hub.commit("quirk/packed", {"model.safetensors.zipw": repos["zipw"]})
    hub.olah_as_is("quirk/packed")
    assert sha256_file(zhub.hf_hub_download("quirk/packed", "model.safetensors")) == repos["sha"]
    with pytest.raises(RepositoryNotFoundError):
        zhub.hf_hub_download("quirk/packed", "other.safetensors")


def test_dry_run(hf_env, repos):
    info = zhub.hf_hub_download("org/packed", "model.safetensors", dry_run=True)
    assert info.will_download and not info.is_cached
    assert info.file_size == os.path.getsize(repos["zipw"]) and info.commit_hash == repos["packed_commit"]
    path = zhub.hf_hub_download("org/packed", "model.safetensors")
    info = zhub.hf_hub_download("org/packed", "model.safetensors", dry_run=True)
    assert info.is_cached and not info.will_download and info.local_path == path


def test_hub_unreachable_falls_back_to_the_cache(hf_env, repos):
    from _server import free_port

    path = zhub.hf_hub_download("org/packed", "model.safetensors")
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert zhub.hf_hub_download("org/packed", "model.safetensors", endpoint=down, etag_timeout=2) == path


def test_restored_before_knows_a_local_dir_given_with_a_tilde(tmp_path, monkeypatch):
    # download_restored expands local_dir; the check that prefers the .zipw must look
    # where it wrote
    from zipweights.hub import cache, download

    monkeypatch.setenv("HOME", str(tmp_path))
    record = cache.local_record(str(tmp_path / "out"), "sub/model.safetensors")
    os.makedirs(os.path.dirname(record))
    with open(record, "w") as f:
        f.write("{}")
    assert download._restored_before("org/x", "sub/model.safetensors", None, None, None, "~/out")
    assert not download._restored_before("org/x", "sub/other.safetensors", None, None, None, "~/out")
