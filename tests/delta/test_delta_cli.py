"""`zipw` with --base: compress, info, decompress, verify, as a user types them (subprocesses)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save

import zipweights


def _zipw(*args, cwd):
    return subprocess.run([sys.executable, "-m", "zipweights.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((512, 128)) * 0.02).astype(np.float32)
    ft = w + 1e-4 * rng.standard_normal(w.shape).astype(np.float32)
    for name, arr in (("base", w), ("ft", ft)):
        (tmp_path / f"{name}.safetensors").write_bytes(save({"w": arr, "i": np.arange(64, dtype=np.int32)}))
    return tmp_path


def test_cli_round_trip_with_base(pair):
    r = _zipw("compress", "-q", "ft.safetensors", "--base", "base.safetensors", cwd=pair)
    assert r.returncode == 0, r.stderr
    info = _zipw("info", "ft.safetensors.zipw", cwd=pair)
    assert info.returncode == 0 and f"coded against base sha256 {_sha(pair / 'base.safetensors')}" in info.stdout
    assert "delta" in info.stdout or "xor" in info.stdout
    r = _zipw("decompress", "-q", "ft.safetensors.zipw", "-o", "back.safetensors", cwd=pair)  # found by its path
    assert r.returncode == 0, r.stderr
    assert _sha(pair / "back.safetensors") == _sha(pair / "ft.safetensors")
    assert _zipw("verify", "-q", "ft.safetensors.zipw", "--base", "base.safetensors", cwd=pair).returncode == 0


def test_cli_wrong_and_missing_base(pair):
    assert _zipw("compress", "-q", "ft.safetensors", "--base", "base.safetensors", cwd=pair).returncode == 0
    r = _zipw("decompress", "ft.safetensors.zipw", "-o", "out.safetensors", "--base", "ft.safetensors", cwd=pair)
    assert r.returncode == 2 and "wrong base model" in r.stderr and _sha(pair / "base.safetensors") in r.stderr
    os.rename(pair / "base.safetensors", pair / "moved.safetensors")
    r = _zipw("decompress", "ft.safetensors.zipw", "-o", "out.safetensors", cwd=pair)
    assert r.returncode == 2 and "needs its base model" in r.stderr and "base.safetensors" in r.stderr
    assert not (pair / "out.safetensors").exists()
    assert sorted(os.listdir(pair)) == ["ft.safetensors", "ft.safetensors.zipw", "moved.safetensors"]
    r = _zipw("decompress", "-q", "ft.safetensors.zipw", "-o", "out.safetensors", "--base", "moved.safetensors",
              cwd=pair)
    assert r.returncode == 0, r.stderr
    assert _sha(pair / "out.safetensors") == _sha(pair / "ft.safetensors")


def test_cli_checkpoint_series_against_a_zipw_base(pair):
    assert _zipw("compress", "-q", "base.safetensors", cwd=pair).returncode == 0
    assert _zipw("compress", "-q", "ft.safetensors", "--base", "base.safetensors.zipw", cwd=pair).returncode == 0
    os.remove(pair / "base.safetensors")
    os.remove(pair / "ft.safetensors")
    assert _zipw("decompress", "-q", "ft.safetensors.zipw", cwd=pair).returncode == 0
    with zipweights.ZipwFile(pair / "ft.safetensors.zipw") as zf:
        assert zf.original_sha256 == _sha(pair / "ft.safetensors")
