"""Upload filter. The boundary (said plainly): HfApi.create_commit is captured, its
operations' files are committed into the git repo olah serves, and downloaded back
over HTTP through olah to compare sha256. The transport behind create_commit (preupload,
LFS, xet) is not exercised: no local server accepts uploads."""

from __future__ import annotations

import glob
import os
import tempfile

import pytest
from helpers import make_weights, sharded

import huggingface_hub
from huggingface_hub import CommitOperationAdd, HfApi

import zipweights
from zipweights import hub as zhub


def _no_temp_left(before):
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "zipw-upload-*")))
    assert after <= before, after - before


@pytest.fixture
def temps():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "zipw-upload-*")))


def test_upload_file_path_and_bytes(hf_env, capture, tmp_path, temps, sha256_file):
    w = tmp_path / "model.safetensors"
    sha = make_weights(w, seed=11)
    zhub.upload_file(path_or_fileobj=str(w), path_in_repo="model.safetensors", repo_id="up/file")
    zhub.upload_file(path_or_fileobj=w.read_bytes(), path_in_repo="sub/copy.safetensors", repo_id="up/file")
    zhub.upload_file(path_or_fileobj=b'{"a": 1}', path_in_repo="config.json", repo_id="up/file")
    assert capture.paths == ["model.safetensors.zipw", "sub/copy.safetensors.zipw", "config.json"]
    _no_temp_left(temps)
    # back through olah: the compressed file in the repo, the original restored on download
    z = huggingface_hub.hf_hub_download("up/file", "model.safetensors.zipw")
    with zipweights.ZipwFile(z) as zf:
        assert zf.original_sha256 == sha
    assert sha256_file(zhub.hf_hub_download("up/file", "model.safetensors")) == sha
    assert sha256_file(zhub.hf_hub_download("up/file", "sub/copy.safetensors")) == sha


def test_upload_folder_sharded(hf_env, capture, tmp_path, temps, sha256_file):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    files = sharded(str(folder))
    (folder / "config.json").write_text("{}")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("x")
    zhub.upload_folder(repo_id="up/folder", folder_path=folder)
    assert sorted(capture.paths) == sorted([
        "config.json", "model.safetensors.index.json",
        "model-00001-of-00002.safetensors.zipw", "model-00002-of-00002.safetensors.zipw"])
    _no_temp_left(temps)
    assert os.listdir(folder) and not glob.glob(str(folder / "*.zipw"))  # the input folder untouched
    snap = zhub.snapshot_download("up/folder")
    for name, src in files.items():
        assert sha256_file(os.path.join(snap, name)) == sha256_file(src), name  # index JSON byte-identical


def test_upload_folder_patterns_apply_to_original_names(hf_env, capture, tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    sharded(str(folder))
    zhub.upload_folder(repo_id="up/pat", folder_path=folder, allow_patterns="model-00002-*.safetensors",
                       path_in_repo="weights")
    assert capture.paths == ["weights/model-00002-of-00002.safetensors.zipw"]


def test_create_commit_operations(hf_env, capture, tmp_path, temps, sha256_file):
    w = tmp_path / "a.safetensors"
    sha = make_weights(w, seed=12)
    with open(w, "rb") as fileobj:
        zhub.create_commit("up/ops", [
            CommitOperationAdd("a.safetensors", str(w)),
            CommitOperationAdd("b.safetensors", fileobj),
            CommitOperationAdd("README.md", b"# hi\n"),
        ], commit_message="ops")
    assert capture.paths == ["a.safetensors.zipw", "b.safetensors.zipw", "README.md"]
    _no_temp_left(temps)
    for name in ("a.safetensors", "b.safetensors"):
        assert sha256_file(zhub.hf_hub_download("up/ops", name)) == sha


def test_transparent_hfapi_upload_folder(hf_env, capture, tmp_path, temps, sha256_file):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    sha = make_weights(folder / "model.safetensors", seed=13)
    zhub.enable()
    try:
        HfApi().upload_folder(repo_id="up/tp", folder_path=folder)
        huggingface_hub.upload_file(path_or_fileobj=str(folder / "model.safetensors"),
                                    path_in_repo="again.safetensors", repo_id="up/tp")
    finally:
        zhub.disable()
    assert capture.paths == ["model.safetensors.zipw", "again.safetensors.zipw"]
    _no_temp_left(temps)
    assert sha256_file(zhub.hf_hub_download("up/tp", "model.safetensors")) == sha


def test_xet_transport_never_sees_plain_weights(hf_env, tmp_path, monkeypatch, temps):
    """With hf_xet, upload_folder goes to the streamed pipeline instead of create_commit:
    check what the filter hands to it."""
    from huggingface_hub import _upload_pipeline, hf_api

    seen = []

    def pipelined_upload(api, *, add_operations, **kwargs):
        for op in add_operations:
            src = op.path_or_fileobj
            seen.append((op.path_in_repo, open(src, "rb").read(8) if isinstance(src, (str, os.PathLike)) else b""))
        return "done"

    monkeypatch.setattr(hf_api, "is_xet_available", lambda: True)
    monkeypatch.setattr(_upload_pipeline, "pipelined_upload", pipelined_upload)
    monkeypatch.setattr(HfApi, "_validate_yaml", lambda self, *a, **k: None)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    make_weights(folder / "model.safetensors", seed=14)
    (folder / "README.md").write_text("card\n")
    assert zhub.upload_folder(repo_id="up/xet", folder_path=folder) == "done"
    assert sorted(p for p, _ in seen) == ["README.md", "model.safetensors.zipw"]
    assert dict(seen)["model.safetensors.zipw"] == b"\x89ZIPW\r\n\x1a"
    _no_temp_left(temps)


def test_interrupted_upload_leaves_no_temporary_copy(hf_env, tmp_path, monkeypatch, temps):
    def fail(self, repo_id, operations, **kwargs):
        assert all(os.path.exists(op.path_or_fileobj) for op in operations)
        raise KeyboardInterrupt  # the upload is interrupted

    monkeypatch.setattr(HfApi, "create_commit", fail)
    w = tmp_path / "model.safetensors"
    make_weights(w, seed=15)
    with pytest.raises(KeyboardInterrupt):
        zhub.upload_file(path_or_fileobj=str(w), path_in_repo="model.safetensors", repo_id="up/fail")
    _no_temp_left(temps)


def test_run_as_future_and_file_objects(hf_env, capture, tmp_path, temps, sha256_file):
    w = tmp_path / "model.safetensors"
    sha = make_weights(w, seed=16)
    with open(w, "rb") as f:
        fut = zhub.upload_file(path_or_fileobj=f, path_in_repo="model.safetensors", repo_id="up/fut",
                               run_as_future=True)
        fut.result(timeout=60)
    assert capture.paths == ["model.safetensors.zipw"]
    _no_temp_left(temps)
    assert sha256_file(zhub.hf_hub_download("up/fut", "model.safetensors")) == sha
