"""Size ratio (compressed / original) and compress time (wall and this process' CPU) of
each level, per file, one thread by default: where each level's gain over the default
comes from (zipweights/codec/chain.py's _LEVELS says what each tries). CSV to stdout.

    python bench/level_gain.py [--levels 1-9] [--sha] FILE...

--sha adds each output's sha256 (to show that a change leaves the encoder's output as
it was, file by file).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import zipweights  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1-9", help="e.g. 1-9 or 3,9")
    ap.add_argument("--sha", action="store_true", help="also the sha256 of every output")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if "-" in args.levels:
        a, b = map(int, args.levels.split("-"))
        levels = list(range(a, b + 1))
    else:
        levels = [int(x) for x in args.levels.split(",")]
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "unknown CPU")
    print(f"# cpu: {cpu}; load: {' '.join(open('/proc/loadavg').read().split()[:3])}")
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
