#!/usr/bin/env python3
"""Load benchmark: reading weights from .zipw vs from the uncompressed .safetensors.

    python bench/load_bench.py [FILE.safetensors ...] [--runs 5] [--threads 1,2]
                               [--cache warm|cold|both] [--read-mbps MB] [--json OUT]

Default files: bench/corpus/craft-{bf16,fp16,fp32}.safetensors. Each file is
compressed once (default level) into a temporary folder beside the corpus (the same
disk); with --cache warm both files are then read once so every timing is from the
page cache; with --cache cold (root) the page cache is dropped before every timed
run, so both sides read from disk; --read-mbps MB (root, with --cache cold) caps this
process's reads from the corpus's disk at MB megabytes a second (the kernel's block
throttle: a cgroup-v2 `io.max` or cgroup-v1 `blkio.throttle.read_bps_device` limit on
a cgroup this process moves into), a slow disk on a machine whose disk is fast. All timings run in this one process, the two
sides interleaved, imports excluded; the median of --runs runs is reported, with the
CPU model and the load average.

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
from machine import cpu_model  # noqa: E402  (bench/ is the script folder)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def default_files() -> list[str]:
    files = [os.path.join(HERE, "corpus", f"craft-{d}.safetensors") for d in ("bf16", "fp16", "fp32")]
    files = [p for p in files if os.path.isfile(p)]
    if not files:
        sys.exit("no input: python bench/build_corpus.py, or pass safetensors files")
    return files




def drop_caches() -> None:
    """Empty the page cache (root only): the next read of either file is from disk."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


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


def timed(fn, runs: int, cold: bool = False) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        gc.collect()
        if cold:
            drop_caches()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times), times


def bench_file(src: str, runs: int, threads: list[int], tmp: str, cold: bool) -> dict:
    import safetensors
    import safetensors.numpy as st_np
    import safetensors.torch as st_pt

    import zipweights
    import zipweights.numpy as zw_np
    import zipweights.torch as zw_pt

    dst = os.path.join(tmp, os.path.basename(src) + ".zipw")
    t0 = time.perf_counter()
    stats = zipweights.compress_file(src, dst, force=True)
    compress_s = time.perf_counter() - t0
    warm(src)
    warm(dst)
    with safetensors.safe_open(src, "pt") as f:
        sizes = {k: f.get_slice(k).get_shape() for k in f.keys()}
        # safetensors' numpy face cannot read bf16 or fp8
        numpy_ok = not any(f.get_slice(k).get_dtype() == "BF16" or f.get_slice(k).get_dtype().startswith("F8")
                           for k in f.keys())
    import math

    nbytes = {k: math.prod(s) for k, s in sizes.items()}
    small = min((k for k in nbytes if nbytes[k] > 0), key=lambda k: (nbytes[k], k))
    large = max(nbytes, key=lambda k: (nbytes[k], k))

    def st_one():
        with safetensors.safe_open(src, "pt") as f:
            return f.get_tensor(small).clone()

    def st_slice():
        with safetensors.safe_open(src, "pt") as f:
            return f.get_slice(large)[:8].clone()

    cases = []
    for th in threads:
        def zw_one(th=th):
            with zipweights.safe_open(dst, "pt", threads=th) as f:
                return f.get_tensor(small)

        def zw_slice(th=th):
            with zipweights.safe_open(dst, "pt", threads=th) as f:
                return f.get_slice(large)[:8]

        cases.append((f"torch.load_file + touch, {th} thr", lambda: touch(st_pt.load_file(src)),
                      lambda th=th: touch(zw_pt.load_file(dst, threads=th))))
        if numpy_ok:
            cases.append((f"numpy.load_file, {th} thr", lambda: st_np.load_file(src),
                          lambda th=th: zw_np.load_file(dst, threads=th)))
        else:
            cases.append((f"numpy.load_file, {th} thr (st: torch + touch)", lambda: touch(st_pt.load_file(src)),
                          lambda th=th: zw_np.load_file(dst, threads=th)))
        if not cold:
            cases.append((f"torch.load_file, {th} thr", lambda: st_pt.load_file(src),
                          lambda th=th: zw_pt.load_file(dst, threads=th)))
            cases.append((f"one small tensor ({small}), {th} thr", st_one, zw_one))
            cases.append((f"one slice ({large}[:8]), {th} thr", st_slice, zw_slice))
    rows = []
    for label, st_fn, zw_fn in cases:
        st_fn(), zw_fn()  # warm-up (imports, first-touch allocations)
        st_all, zw_all = [], []
        for _ in range(runs):  # interleave the two sides
            st_all.append(timed(st_fn, 1, cold)[0])
            zw_all.append(timed(zw_fn, 1, cold)[0])
        st_med, zw_med = statistics.median(st_all), statistics.median(zw_all)
        rows.append({"case": label, "safetensors_s": st_med, "zipweights_s": zw_med,
                     "ratio": zw_med / st_med if st_med else float("nan"),
                     "safetensors_runs": st_all, "zipweights_runs": zw_all})
    if cold:
        warm(src)
        warm(dst)
    return {
        "file": src,
        "cache": "cold" if cold else "warm",
        "original_bytes": stats.original_size,
        "zipw_bytes": stats.compressed_size,
        "size_ratio": stats.ratio,
        "compress_s": compress_s,
        "rows": rows,
    }


def throttle_reads(mbps: float, path: str) -> str:
    """Move this process into a cgroup whose reads from the block device holding `path`
    are capped at `mbps` MB/s; return a description of the limit."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    # a partition's throttle is set on its whole disk
    sysdev = os.path.realpath(f"/sys/dev/block/{major}:{minor}")
    if os.path.exists(os.path.join(sysdev, "partition")):
        with open(os.path.join(os.path.dirname(sysdev), "dev")) as f:
            major, minor = map(int, f.read().split(":"))
    bps = int(mbps * 1e6)
    v2, v1 = "/sys/fs/cgroup/unified", "/sys/fs/cgroup/blkio"
    for root, limit_file, line in (
        ("/sys/fs/cgroup", "io.max", f"{major}:{minor} rbps={bps}"),
        (v2, "io.max", f"{major}:{minor} rbps={bps}"),
        (v1, "blkio.throttle.read_bps_device", f"{major}:{minor} {bps}"),
    ):
        if not os.path.exists(os.path.join(root, "cgroup.procs")):
            continue
        group = os.path.join(root, "zipw-load-bench")
        try:
            os.makedirs(group, exist_ok=True)
            with open(os.path.join(group, limit_file), "w") as f:
                f.write(line)
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            continue
        return f"{group}/{limit_file} = {line!r}"
    sys.exit("--read-mbps: no cgroup io/blkio controller to throttle reads with here")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="decode threads, a comma-separated list (default: 1,2)")
    ap.add_argument("--cache", choices=("warm", "cold", "both"), default="warm",
                    help="cold: the page cache is dropped before every timed run (root only)")
    ap.add_argument("--read-mbps", type=float, help="cap this process's disk reads (MB/s; root, cold cache)")
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args(argv)
    files = args.files or default_files()
    threads = [int(t) for t in args.threads.split(",")]
    caches = ["warm", "cold"] if args.cache == "both" else [args.cache]
    if "cold" in caches and os.geteuid() != 0:
        sys.exit("--cache cold needs root (it writes /proc/sys/vm/drop_caches)")
    throttle = throttle_reads(args.read_mbps, HERE) if args.read_mbps else None

    import safetensors
    import torch

    import zipweights

    env = {
        "python": platform.python_version(), "machine": platform.machine(), "cpu": cpu_model(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "zipweights": zipweights.__version__, "safetensors": safetensors.__version__,
        "torch": torch.__version__, "threads": threads, "runs": args.runs, "read_throttle": throttle,
    }
    print(f"# load benchmark  {env}")
    results = []
    with tempfile.TemporaryDirectory(prefix="zipw-loadbench-", dir=HERE) as tmp:  # on the corpus's disk
        for cache in caches:
            for src in files:
                r = bench_file(src, args.runs, threads, tmp, cache == "cold")
                results.append(r)
                print(f"\n## {os.path.basename(src)}, {cache} cache: {r['original_bytes'] / 1e6:.1f} MB -> "
                      f"{r['zipw_bytes'] / 1e6:.1f} MB (ratio {r['size_ratio']:.3f}); median of {args.runs}; "
                      f"load {os.getloadavg()[0]:.2f}")
                print(f"{'case':58s} {'safetensors':>12s} {'zipweights':>12s} {'zw/st':>7s}")
                for row in r["rows"]:
                    print(f"{row['case'][:58]:58s} {row['safetensors_s'] * 1e3:10.2f}ms "
                          f"{row['zipweights_s'] * 1e3:10.2f}ms {row['ratio']:7.2f}")
    env["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\n# load average at the end: {env['loadavg_end']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
