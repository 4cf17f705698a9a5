"""Small safetensors files and compressed repos for the Hub tests."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
from safetensors.numpy import save

import zipweights


def make_weights(path, seed: int = 0, n: int = 4096) -> str:
    rng = np.random.default_rng(seed)
    tensors = {
        "a.weight": (rng.standard_normal((n // 64, 64)) * 0.02).astype(np.float32),
        "b.bias": rng.standard_normal(n // 8).astype(np.float16),
        "c.idx": np.arange(100, dtype=np.int64),
    }
    data = save(tensors, metadata={"format": "np"})
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def compressed(path) -> str:
    out = str(path) + ".zipw"
    if not os.path.exists(out):
        zipweights.compress_file(path, out, threads=1)
    return out


def sharded(tmp, seeds=(1, 2)):
    """Two shards and their index JSON: {name: local path}."""
    files, weight_map = {}, {}
    n = len(seeds)
    for i, seed in enumerate(seeds):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        p = os.path.join(tmp, name)
        make_weights(p, seed=seed)
        files[name] = p
        for t in ("a.weight", "b.bias", "c.idx"):
            weight_map[f"layer{i}.{t}"] = name
    idx = os.path.join(tmp, "model.safetensors.index.json")
    with open(idx, "w") as f:
        json.dump({"metadata": {"total_size": 1}, "weight_map": weight_map}, f, indent=2)
    files["model.safetensors.index.json"] = idx
    return files
