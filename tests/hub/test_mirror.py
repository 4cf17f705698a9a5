"""zipw mirror against olah: hub -> folder over HTTP, resume, dry run, globs, --restore,
--list; hub -> hub at the create_commit boundary (see test_upload.py)."""

from __future__ import annotations

import json
import os

import pytest
from helpers import make_weights, sharded

import zipweights
from zipweights import cli
from zipweights import hub as zhub
from zipweights.hub import mirror as zm


@pytest.fixture(scope="module")
def source(hub, tmp_path_factory):
    d = tmp_path_factory.mktemp("msrc")
    files = sharded(str(d), seeds=(21, 22))
    files["config.json"] = b'{"model_type": "x"}'
    files["README.md"] = b"---\nlicense: mit\n---\n# A model\n"
    files["extra/notes.txt"] = b"hello\n"
    commit = hub.commit("mir/src", dict(files))
    return {"files": files, "commit": commit}


def _run(hub, *argv):
    return cli.main(["mirror", "--endpoint", hub.endpoint, "-q", *argv])


def test_mirror_file_is_a_pure_step(tmp_path, sha256_file):
    w = tmp_path / "m.safetensors"
    sha = make_weights(w, seed=5)
    rec = zm.mirror_file(str(w), str(tmp_path / "out.zipw"), name="sub/m.safetensors", expect_sha256=sha)
    assert (rec.action, rec.output, rec.source_sha256) == ("compressed", "sub/m.safetensors.zipw", sha)
    assert rec.output_size == os.path.getsize(tmp_path / "out.zipw") and 0 < rec.ratio < 1
    with pytest.raises(zipweights.ChecksumMismatchError):
        zm.mirror_file(str(w), str(tmp_path / "bad.zipw"), name="m.safetensors", expect_sha256="0" * 64)
    assert not (tmp_path / "bad.zipw").exists()
    back = zm.mirror_file(str(tmp_path / "out.zipw"), str(tmp_path / "back"), name="m.safetensors.zipw",
                          restore=True)
    assert back.action == "restored" and sha256_file(tmp_path / "back") == sha


def test_hub_to_folder_resume_and_restore(hf_env, hub, source, tmp_path, sha256_file):
    dest = tmp_path / "packed"
    assert _run(hub, "--dry-run", "mir/src", str(dest)) == 0
    assert not dest.exists()
    assert _run(hub, "mir/src", str(dest)) == 0
    got = sorted(os.path.relpath(os.path.join(r, f), dest) for r, _, fs in os.walk(dest) for f in fs)
    assert got == sorted([".zipw-mirror.json", "README.md", "config.json", "extra/notes.txt",
                          "model-00001-of-00002.safetensors.zipw", "model-00002-of-00002.safetensors.zipw",
                          "model.safetensors.index.json"])
    files = source["files"]
    for name, src in files.items():
        if name.endswith(".safetensors"):
            with zipweights.ZipwFile(dest / (name + ".zipw")) as zf:
                assert zf.original_sha256 == sha256_file(src)
        elif name != "README.md":
            want = src if isinstance(src, bytes) else open(src, "rb").read()
            assert (dest / name).read_bytes() == want, name
    card = (dest / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n---\n# A model\n") and "ratio 0." in card and "zipw-mirror" in card
    # a rerun does nothing (recognised by the sha256 in each .zipw / the manifest)
    s = zm.mirror("mir/src", str(dest), endpoint=hub.endpoint, progress=False)
    assert s["records"] == [] and len(s["skipped"]) == 5
    # a damaged output is redone, the rest skipped
    (dest / "model-00002-of-00002.safetensors.zipw").write_bytes(b"junk")
    s = zm.mirror("mir/src", str(dest), endpoint=hub.endpoint, progress=False)
    assert [r["source"] for r in s["records"]] == ["model-00002-of-00002.safetensors"]
    # and back: a compressed repo (served from what the mirror wrote) to a plain folder
    hub.commit("mir/packed", {os.path.relpath(os.path.join(r, f), dest): os.path.join(r, f)
                              for r, _, fs in os.walk(dest) for f in fs if f != ".zipw-mirror.json"})
    plain = tmp_path / "plain"
    assert _run(hub, "--restore", "mir/packed", str(plain)) == 0
    for name, src in files.items():
        want = src if isinstance(src, bytes) else open(src, "rb").read()
        assert (plain / name).read_bytes() == want, name  # the card without the note, too


def test_globs_and_list(hf_env, hub, source, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    lst = tmp_path / "pairs.txt"
    lst.write_text(f"# pairs\nmir/src {a}\nmir/src@{source['commit']} {b}\n")
    assert _run(hub, "--list", str(lst), "--include", "*.json", "--exclude", "config.json") == 0
    for d in (a, b):
        assert sorted(os.listdir(d)) == [".zipw-mirror.json", "model.safetensors.index.json"]
    rec = tmp_path / "records.jsonl"
    assert _run(hub, "mir/src", str(tmp_path / "c"), "--include", "model-00001*", "--records", str(rec)) == 0
    lines = [json.loads(x) for x in rec.read_text().splitlines()]
    assert [(x["source"], x["action"]) for x in lines] == [("model-00001-of-00002.safetensors", "compressed")]
    assert _run(hub, "nope/missing", str(tmp_path / "d")) == 1
    assert _run(hub) == 2


def test_hub_to_hub(hf_env, hub, source, capture, sha256_file):
    s = zm.mirror("mir/src", "mir/dst", endpoint=hub.endpoint, progress=False)
    assert len(s["records"]) == 5
    uploaded = capture.paths
    assert not [p for p in uploaded if p.endswith(".safetensors")]
    assert "model-00001-of-00002.safetensors.zipw" in uploaded and zm.MANIFEST in uploaded
    # rerun: the manifest in the destination says everything is there
    s = zm.mirror("mir/src", "mir/dst", endpoint=hub.endpoint, progress=False)
    assert s["records"] == [] and len(s["skipped"]) == 5
    # the destination serves the original weights
    for name, src in source["files"].items():
        if name.endswith(".safetensors"):
            assert sha256_file(zhub.hf_hub_download("mir/dst", name)) == sha256_file(src)


def test_restore_hub_to_hub(hf_env, hub, source, capture):
    zm.mirror("mir/src", "mir/dst2", endpoint=hub.endpoint, progress=False)
    n = len(capture.commits)
    s = zm.mirror("mir/dst2", "mir/plain2", restore=True, endpoint=hub.endpoint, progress=False)
    restored = [op.path_in_repo for _, ops in capture.commits[n:] for op in ops]
    assert "model-00001-of-00002.safetensors" in restored and not [p for p in restored if p.endswith(".zipw")]
    assert {r["action"] for r in s["records"]} == {"restored", "copied"}
    for name, src in source["files"].items():
        want = src if isinstance(src, bytes) else open(src, "rb").read()
        got = open(zhub.hf_hub_download("mir/plain2", name), "rb").read()
        assert got == want, name
