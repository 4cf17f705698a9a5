"""A sharded compressed repo downloads without huggingface_hub's "No files matched"
warning: transformers asks snapshot_download for the shards by name, which the repo
holds only as .zipw files, so huggingface_hub itself (given those names and our pattern
that keeps the .zipw files out) fetched nothing and warned, though every shard was then
restored. Nothing of it may reach stderr or the log; where the patterns match nothing
at all, huggingface_hub's own warning stays."""

from __future__ import annotations

import hashlib
import logging
import os

from helpers import compressed, sharded

from zipweights import hub as zhub

NOISE = "No files matched"


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _repo(hub, tmp_path, repo_id):
    files = sharded(str(tmp_path))
    repo = {}
    for name, path in files.items():
        repo[name + ".zipw" if name.endswith(".safetensors") else name] = (
            compressed(path) if name.endswith(".safetensors") else path)
    hub.commit(repo_id, repo)
    return {n: p for n, p in files.items() if n.endswith(".safetensors")}


def test_shards_by_name_fetch_quietly(hf_env, hub, tmp_path, capfd, caplog):
    shards = _repo(hub, tmp_path, "noise/sharded")
    caplog.set_level(logging.INFO)
    folder = zhub.snapshot_download("noise/sharded", allow_patterns=sorted(shards))
    out, err = capfd.readouterr()
    for name, src in shards.items():
        assert _sha(os.path.join(folder, name)) == _sha(src)
    assert NOISE not in err and NOISE not in out
    assert not [r for r in caplog.records if NOISE in r.getMessage()]
    # and again, from the cache's listing of the repo
    zhub.snapshot_download("noise/sharded", allow_patterns=sorted(shards))
    out, err = capfd.readouterr()
    assert NOISE not in err + out


def test_patterns_matching_nothing_still_warn(hf_env, hub, tmp_path, capfd, caplog):
    """The control: the capture above sees huggingface_hub's warning where it is true."""
    _repo(hub, tmp_path, "noise/sharded-none")
    caplog.set_level(logging.INFO)
    zhub.snapshot_download("noise/sharded-none", allow_patterns=["no-such-file*"])
    out, err = capfd.readouterr()
    seen = NOISE in err + out or any(NOISE in r.getMessage() for r in caplog.records)
    assert seen
