"""Delta files on the hub (olah on loopback): a fine-tune repo coded against a base repo,
restored by the download filter with its base fetched through the normal cache; a
checkpoint series inside one repo; `zipw mirror --base`; transparent mode."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from safetensors.numpy import save

import zipweights
import zipweights.numpy
from zipweights import hub as zhub
from zipweights.hub import mirror as zm
from zipweights.reader import ZipwFile


def _weights(seed: int, moved: float = 0.0, base_seed: int | None = None) -> bytes:
    """A small model; with `base_seed`, that model's weights moved by `moved` * std."""
    rng = np.random.default_rng(base_seed if base_seed is not None else seed)
    w = (rng.standard_normal((256, 64)) * 0.02).astype(np.float32)
    b = rng.standard_normal(512).astype(np.float16)
    if base_seed is not None:
        r2 = np.random.default_rng(seed)
        w = (w + moved * w.std() * r2.standard_normal(w.shape)).astype(np.float32)
        b = (b.astype(np.float32) + moved * r2.standard_normal(b.shape)).astype(np.float16)
    return save({"a.weight": w, "b.bias": b, "c.idx": np.arange(100, dtype=np.int64)}, metadata={"format": "np"})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def repos(hub, tmp_path_factory):
    d = tmp_path_factory.mktemp("delta-src")
    base, ft, step2 = _weights(1), _weights(2, 1e-3, base_seed=1), _weights(3, 1e-3, base_seed=1)
    paths = {}
    for name, data in (("base", base), ("ft", ft), ("step2", step2)):
        paths[name] = str(d / f"{name}.safetensors")
        with open(paths[name], "wb") as f:
            f.write(data)
    base_commit = hub.commit("dl/base", {"model.safetensors": paths["base"], "config.json": b"{}"})
    zipweights.compress_file(paths["base"], str(d / "base.safetensors.zipw"))
    basez_commit = hub.commit("dl/base-z", {"model.safetensors.zipw": str(d / "base.safetensors.zipw")})
    # the fine-tune against the plain base repo, and against the compressed one
    ftz = str(d / "ft.safetensors.zipw")
    zipweights.compress_file(paths["ft"], ftz, base=paths["base"],
                             base_location={"repo_id": "dl/base", "revision": base_commit,
                                            "filename": "model.safetensors"})
    ftz2 = str(d / "ft2.safetensors.zipw")
    zipweights.compress_file(paths["ft"], ftz2, base=paths["base"],
                             base_location={"repo_id": "dl/base-z", "revision": basez_commit,
                                            "filename": "model.safetensors"})
    hub.commit("dl/ft", {"model.safetensors.zipw": ftz})
    hub.commit("dl/ft2", {"model.safetensors.zipw": ftz2})
    # a checkpoint series in one repo: step2 against step1, found by its relative path
    series = d / "series"
    series.mkdir()
    s1 = str(series / "step1.safetensors")
    with open(s1, "wb") as f:
        f.write(ft)
    zipweights.compress_file(s1, s1 + ".zipw")
    s2 = str(series / "step2.safetensors")
    with open(s2, "wb") as f:
        f.write(step2)
    zipweights.compress_file(s2, s2 + ".zipw", base=s1 + ".zipw")
    hub.commit("dl/series", {"ckpt/step1.safetensors.zipw": s1 + ".zipw", "ckpt/step2.safetensors.zipw": s2 + ".zipw"})
    # the plain fine-tune, for the mirror
    ft_commit = hub.commit("dl/ft-plain", {"model.safetensors": paths["ft"], "README.md": b"# ft\n"})
    return {"paths": paths, "base": base, "ft": ft, "step2": step2, "base_commit": base_commit,
            "ftz": ftz, "ft_commit": ft_commit}


def _read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_a_delta_repo_restores_with_its_base_from_the_hub(hf_env, repos):
    for repo in ("dl/ft", "dl/ft2"):  # the base repo plain, and compressed itself
        path = zhub.hf_hub_download(repo, "model.safetensors")
        assert _sha(_read(path)) == _sha(repos["ft"])


def test_a_checkpoint_series_in_one_repo(hf_env, repos):
    path = zhub.hf_hub_download("dl/series", "ckpt/step2.safetensors")
    assert _sha(_read(path)) == _sha(repos["step2"])


def test_transparent_mode_finds_a_local_delta_files_hub_base(hf_env, repos, tmp_path):
    local = str(tmp_path / "ft.safetensors.zipw")
    with open(local, "wb") as f:
        f.write(_read(repos["ftz"]))  # alone in its folder: the base is only on the hub
    with pytest.raises(zipweights.BaseNotFoundError, match="hub dl/base"):
        zipweights.numpy.load_file(local)
    zhub.enable()
    try:
        got = zipweights.numpy.load_file(local)
    finally:
        zhub.disable()
    want = zipweights.numpy.load_file(repos["paths"]["ft"])
    assert {k: v.tobytes() for k, v in got.items()} == {k: v.tobytes() for k, v in want.items()}


def test_mirror_against_a_base_repo_and_back(hf_env, hub, repos, tmp_path):
    dest = tmp_path / "ft-zipw"
    summary = zm.mirror("dl/ft-plain", str(dest), base="dl/base", endpoint=hub.endpoint, progress=False)
    assert summary["base"] == f"dl/base@{repos['base_commit']}"
    out = str(dest / "model.safetensors.zipw")
    with ZipwFile(out) as zf:
        assert zf.base_record.location == {"repo_id": "dl/base", "revision": repos["base_commit"],
                                           "filename": "model.safetensors"}
    alone = zipweights.compress_file(repos["paths"]["ft"], str(tmp_path / "alone.zipw"))
    assert os.path.getsize(out) < alone.compressed_size
    card = (dest / "README.md").read_text()
    assert "delta against the base model `dl/base@" in card
    # and back: the mirrored folder, pushed as a repo, restores to the plain fine-tune
    hub.commit("dl/ft-mirrored", {"model.safetensors.zipw": out})
    back = tmp_path / "back"
    zm.mirror("dl/ft-mirrored", str(back), restore=True, endpoint=hub.endpoint, progress=False)
    assert _sha(_read(back / "model.safetensors")) == _sha(repos["ft"])
