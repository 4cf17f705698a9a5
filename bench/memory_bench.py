"""Peak memory of compress, decompress and a one-tensor read on a file larger than half
of this machine's RAM (issue #11: bounded memory, measured).

    python bench/memory_bench.py [--gib 13] [--dir /tmp] [--threads 2] [--keep]

Writes a synthetic bf16 safetensors file (weights-like values: normal, per-tensor scale),
then runs each step as its own process under `/usr/bin/time -v` and reports the peak
resident set size (which counts the file pages a process has mapped, not only its heap).
Every file it writes is deleted at the end unless --keep. Not a test: a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

TENSOR_BYTES = 64 << 20  # 32 Mi bf16 values per tensor
SMALL = "small.weight"


def write_big_file(path: str, gib: float) -> int:
    import ml_dtypes

    count = max(1, int(gib * (1 << 30)) // TENSOR_BYTES)
    rng = np.random.default_rng(0)
    # a few distinct blocks, reused: generating 13 GiB of normals would take minutes, and
    # the codec codes every chunk on its own, so reuse changes no figure measured here
    blocks = [
        (rng.standard_normal(TENSOR_BYTES // 2, dtype=np.float32) * (0.02 * (k + 1)))
        .astype(ml_dtypes.bfloat16)
        .view(np.uint8)
        for k in range(4)
    ]
    small = (rng.standard_normal(1024, dtype=np.float32) * 0.02).astype(ml_dtypes.bfloat16).view(np.uint8)
    header, offset = {}, 0
    header[SMALL] = {"dtype": "BF16", "shape": [32, 32], "data_offsets": [0, small.nbytes]}
    offset = small.nbytes
    for i in range(count):
        header[f"layer.{i}.weight"] = {
            "dtype": "BF16",
            "shape": [4096, TENSOR_BYTES // 2 // 4096],
            "data_offsets": [offset, offset + TENSOR_BYTES],
        }
        offset += TENSOR_BYTES
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        f.write(small.tobytes())
        for i in range(count):
            f.write(blocks[i % len(blocks)].data)
    return os.path.getsize(path)


def peak_rss(cmd: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, exit status) of one process."""
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-2000:])
    return (int(m.group(1)) / 1024 if m else float("nan")), wall, r.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gib", type=float, default=13.0, help="size of the generated file (default 13)")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where to write (needs ~2.7x the size free)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="zipw-mem-", dir=args.dir)
    src = os.path.join(work, "big.safetensors")
    packed = src + ".zipw"
    back = os.path.join(work, "back.safetensors")
    exe = shutil.which("zipw", path=os.path.dirname(sys.executable)) or shutil.which("zipw")
    if exe is None:
        sys.exit("zipw not found: install the project first (pip install .)")
    zipw = [exe]
    try:
        t0 = time.perf_counter()
        size = write_big_file(src, args.gib)
        print(f"generated {size / (1 << 30):.2f} GiB in {time.perf_counter() - t0:.0f} s: {src}", flush=True)
        rows = []
        steps = [
            ("compress", zipw + ["compress", "-q", "-T", str(args.threads), src, "-o", packed]),
            ("decompress", zipw + ["decompress", "-q", "-T", str(args.threads), packed, "-o", back]),
            (
                "safe_open(...).get_tensor (one 2 KB tensor)",
                [
                    sys.executable,
                    "-c",
                    "import hashlib, zipweights; f = zipweights.safe_open(%r, 'np');"
                    "print(hashlib.sha256(f.get_tensor(%r).tobytes()).hexdigest())" % (packed, SMALL),
                ],
            ),
        ]
        for label, cmd in steps:
            rss, wall, rc = peak_rss(cmd)
            rows.append((label, rss, wall, rc))
            print(f"{label}: peak RSS {rss:,.0f} MiB, {wall:.1f} s, exit {rc}", flush=True)
        same = subprocess.run(["cmp", "-s", src, back]).returncode == 0 if os.path.exists(back) else False
        print()
        print(f"| step ({size / (1 << 30):.1f} GiB bf16, -T {args.threads}) | peak RSS | wall | exit |")
        print("|---|---|---|---|")
        for label, rss, wall, rc in rows:
            print(f"| {label} | {rss:,.0f} MiB | {wall:.1f} s | {rc} |")
        print(f"\nrestored file identical to the original: {same}")
        return 0 if same and all(r[3] == 0 for r in rows) else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
