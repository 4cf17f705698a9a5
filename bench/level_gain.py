"""Where the top level's size gain over the default comes from, per file: the size ratio
(compressed / original) at levels 3 (default), 4 (wider float search: SEARCH row 5),
5 (+ byte planes with zstd 3 where they beat the float payload), 6 and 9 (planes' zstd
5 and 14), with the compress time of each, one thread. Writes CSV to stdout.

    python bench/level_gain.py [--levels 3,4,5,9] FILE...
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import zipweights  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="3,4,5,6,9")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "unknown CPU")
    print(f"# cpu: {cpu}; load: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print("file,level,original,compressed,ratio,compress_s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.zipw")
        for path in args.files:
            n = os.path.getsize(path)
            for lv in levels:
                t0 = time.perf_counter()
                zipweights.compress_file(path, out, threads=args.threads, level=lv, force=True)
                dt = time.perf_counter() - t0
                c = os.path.getsize(out)
                print(f"{os.path.basename(path)},{lv},{n},{c},{c / n:.6f},{dt:.2f}", flush=True)


if __name__ == "__main__":
    main()
