"""Helpers of the command-line tests (imported by name: pytest puts this folder on
sys.path): `zipw` run as a user runs it, a real subprocess of the installed console
script (or `python -m zipweights.cli` where there is none), on small safetensors files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
from zipweights.format import safetensors_header as sth


def zipw_command() -> list[str]:
    exe = shutil.which("zipw") or os.path.join(os.path.dirname(sys.executable), "zipw")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "zipweights.cli"]


def run(*args, cwd=None, stdin=None, input=None, stdout=subprocess.PIPE, env=None) -> subprocess.CompletedProcess:
    """`zipw ARGS` as bytes in, bytes out."""
    return subprocess.run([*zipw_command(), *map(str, args)], cwd=cwd, stdin=stdin, input=input, stdout=stdout,
                          stderr=subprocess.PIPE, env=env)


def small_st(seed: int = 0, n: int = 3000, dtype: str = "F32") -> bytes:
    """A safetensors file of one tensor of weight-like values (a few chunks at most)."""
    x = (np.random.default_rng(seed).standard_normal(n) * 0.02).astype(np.float32)
    raw = x.tobytes() if dtype == "F32" else (x.view(np.uint32) >> 16).astype("<u2").tobytes()
    return sth.build([("w", dtype, (n,), len(raw))], {"format": "pt"}) + raw


def listing(d) -> list[str]:
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)
