"""The float encoder packs raw fields with PEXT, with a shift/mask fold (AMD before Zen 3,
or ZW_NO_PEXT=1) or with the scalar loop (ZW_NO_SIMD=1): all three must write the same
payload bytes. The CPU is probed once per process, so each path runs in its own."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from zipweights import _kernels

_ENCODE_ALL = r"""
import hashlib
import numpy as np
from zipweights import _kernels as K
from zipweights.codec import chain
from zipweights import dtypes
rng = np.random.default_rng(7)
h = hashlib.sha256()
for scale in (0.02, 1.0, 3e-5, 300.0):
    for n in (1, 7, 8, 9, 4095, 50021):
        x = rng.standard_normal(n).astype(np.float32) * scale
        x[:: 97] = 0.0
        bf16 = (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        for kind, data in ((chain.float_kind(dtypes.BY_NAME["BF16"]), bf16),
                           (chain.float_kind(dtypes.BY_NAME["F16"]),
                            x.astype(np.float16).tobytes())):
            for search in range(10):
                p = K.float_encode(data, kind, search)
                h.update(b"-" if p is None else bytes(p))
print(h.hexdigest())
"""


def _digest(**env) -> str:
    return subprocess.run([sys.executable, "-c", _ENCODE_ALL], capture_output=True, text=True,
                          env={**os.environ, "ZW_NO_SIMD": "0", **env}, check=True).stdout.strip()


@pytest.mark.skipif(_kernels.BACKEND != "c", reason="the pack paths are in the C kernels")
def test_pext_fold_and_scalar_pack_give_the_same_bytes():
    pext, fold, scalar = (_digest(ZW_NO_PEXT="0"), _digest(ZW_NO_PEXT="1"),
                          _digest(ZW_NO_SIMD="1"))
    assert len(pext) == 64
    assert pext == fold == scalar
