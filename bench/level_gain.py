"""Size ratio (compressed / original) and compress time (wall and this process' CPU) of
each level, per file, one thread by default: where each level's gain over the default
comes from (zipweights/codec/chain.py's _LEVELS says what each tries). CSV to stdout.

    python bench/level_gain.py [--levels 1-9] [--sha] FILE...

--sha adds each output's sha256 (to show that a change leaves the encoder's output as
it was, file by file). --probe-ab N instead times the default level with and without its
planes probe (chain.Level.probe), N runs each, interleaved, medians of this process' CPU
time: what the probe costs where it finds nothing, and where it does (and, steadier on a
shared machine, the share of that CPU time spent inside the probe itself; the rest of the
difference is what the planes it let in cost).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import zipweights  # noqa: E402
from zipweights.codec import chain  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402


def probe_ab(files, runs: int, threads: int, out: str) -> None:
    on = chain.Level.of(chain.DEFAULT_LEVEL)
    off = dataclasses.replace(on, probe=None)
    cpu: dict = {}
    size: dict = {}
    inside = {"s": 0.0}  # process time inside the probe itself (its share, steadier than the A/B)
    estimate = chain.planes_estimate

    def timed(*a):
        t0 = time.process_time()
        try:
            return estimate(*a)
        finally:
            inside["s"] += time.process_time() - t0

    chain.planes_estimate = timed
    probe_s: dict = {}
    try:
        for lv in (on, off):  # warm-up (thread-local zstd contexts, kernel tables), not timed
            chain._LEVELS[chain.DEFAULT_LEVEL] = lv
            zipweights.compress_file(files[0], out, threads=threads, level=chain.DEFAULT_LEVEL, force=True)
        for _ in range(runs):
            for name, lv in (("probe", on), ("no probe", off)):
                chain._LEVELS[chain.DEFAULT_LEVEL] = lv
                for path in files:
                    inside["s"] = 0.0
                    c0 = time.process_time()
                    zipweights.compress_file(path, out, threads=threads, level=chain.DEFAULT_LEVEL, force=True)
                    cpu.setdefault((name, path), []).append(time.process_time() - c0)
                    if lv is on:
                        probe_s.setdefault(path, []).append(inside["s"])
                    size[name, path] = os.path.getsize(out)
    finally:
        chain._LEVELS[chain.DEFAULT_LEVEL] = on
        chain.planes_estimate = estimate
    print("file,original,ratio_probe,ratio_no_probe,cpu_s_probe,cpu_s_no_probe,cpu_probe_over_no_probe,"
          "probe_share_of_cpu")
    for path in files:
        n = os.path.getsize(path)
        a, b = (statistics.median(cpu[k, path]) for k in ("probe", "no probe"))
        print(f"{os.path.basename(path)},{n},{size['probe', path] / n:.6f},{size['no probe', path] / n:.6f},"
              f"{a:.3f},{b:.3f},{a / b:.3f},{statistics.median(probe_s[path]) / a:.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1-9", help="e.g. 1-9 or 3,9")
    ap.add_argument("--sha", action="store_true", help="also the sha256 of every output")
    ap.add_argument("--probe-ab", type=int, metavar="N", help="time the default level with and without its probe")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if "-" in args.levels:
        a, b = map(int, args.levels.split("-"))
        levels = list(range(a, b + 1))
    else:
        levels = [int(x) for x in args.levels.split(",")]
    cpu = cpu_model()
    print(f"# cpu: {cpu}; load: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    if args.probe_ab:
        with tempfile.TemporaryDirectory() as tmp:
            probe_ab(args.files, args.probe_ab, args.threads, os.path.join(tmp, "x.zipw"))
        print(f"# load at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}")
        return
    print("file,level,original,compressed,ratio,compress_s,compress_cpu_s" + (",sha256" if args.sha else ""), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.zipw")
        for path in args.files:
            n = os.path.getsize(path)
            for lv in levels:
                t0, c0 = time.perf_counter(), time.process_time()
                zipweights.compress_file(path, out, threads=args.threads, level=lv, force=True)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                c = os.path.getsize(out)
                sha = ""
                if args.sha:
                    with open(out, "rb") as f:
                        sha = "," + hashlib.file_digest(f, "sha256").hexdigest()
                print(f"{os.path.basename(path)},{lv},{n},{c},{c / n:.6f},{dt:.2f},{dc:.2f}{sha}", flush=True)


if __name__ == "__main__":
    main()
