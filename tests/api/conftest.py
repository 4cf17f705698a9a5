"""Fixtures of the safetensors-compatible API tests (tests/api).

Everything here is compared with what safetensors itself does on the same file: same
keys, metadata, dtypes, shapes and bytes (never an approximate float comparison). The real weights are tests/conftest.py's
`minilm_fp32` (a missing package is a failure, not a skip).
"""

from __future__ import annotations

import numpy as np
import pytest


def tensor_bytes(x) -> bytes:
    """The raw little-endian bytes of a numpy array or torch tensor."""
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x).tobytes()
    import torch

    x = x.detach().contiguous().cpu()
    if x.numel() == 0:
        return b""
    return x.reshape(-1).view(torch.uint8).numpy().tobytes()


def every_dtype_tensors():
    """A torch dict covering every dtype safetensors' torch API handles, with a
    scalar, an empty tensor, a multi-chunk tensor and non-ASCII names."""
    import torch

    g = torch.Generator().manual_seed(0)
    f32 = torch.randn(64, 48, generator=g)
    t = {
        "big.f32": f32,
        "f64": torch.randn(5, 3, generator=g, dtype=torch.float64),
        "f16": torch.randn(33, generator=g).to(torch.float16),
        "bf16.w": torch.randn(17, 9, generator=g).to(torch.bfloat16),
        "i64": torch.arange(-6, 6, dtype=torch.int64).reshape(3, 4),
        "i32": torch.arange(7, dtype=torch.int32),
        "i16": torch.arange(-3, 4, dtype=torch.int16),
        "i8": torch.arange(-5, 5, dtype=torch.int8),
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "c64": torch.randn(4, generator=g, dtype=torch.complex64),
        "f8e4m3": torch.randn(11, generator=g).to(torch.float8_e4m3fn),
        "f8e5m2": torch.randn(11, generator=g).to(torch.float8_e5m2),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 4),
        "ünï.çødé": torch.randn(6, generator=g),
        "u16": torch.arange(5, dtype=torch.int32).to(torch.uint16),
        "u32": torch.arange(5, dtype=torch.int32).to(torch.uint32),
        "u64": torch.arange(5, dtype=torch.int32).to(torch.uint64),
    }
    nan = torch.tensor([float("nan"), -0.0, float("inf")], dtype=torch.float32)
    nan_bits = nan.view(torch.int32).clone()
    nan_bits[0] = 0x7FC01234  # a NaN payload must survive
    t["nan"] = nan_bits.view(torch.float32)
    return t


@pytest.fixture(scope="session")
def mixed_files(tmp_path_factory):
    """{"st": plain safetensors written by safetensors, "zipw": it compressed with a
    small chunk size (many chunks per tensor), "tensors": the torch dict}."""
    import zipweights
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("api_mixed")
    tensors = every_dtype_tensors()
    st = str(d / "mixed.safetensors")
    save_file(tensors, st, metadata={"format": "pt"})
    zw = st + ".zipw"
    zipweights.compress_file(st, zw, chunk_size=256, threads=2)
    return {"st": st, "zipw": zw, "tensors": tensors}
