"""Compress (or decompress) speed of zipweights at the default level against ZipNN,
interleaved: for each file and thread count the two tools alternate run by run (ABAB...),
so both see the same load on a shared machine; medians of --runs, whole file-to-file job
as bench/run.py times it (page cache, one process; decompress with the default checks:
every chunk's checksum, no whole-file sha256, for both tools). Prints the CPU model and
the load beside the figures.

    python bench/compress_vs_zipnn.py [--op compress|decompress] [--runs 5] [--threads 1,2] [--files GLOB]
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import peers as peer_registry  # noqa: E402
from run import CORPUS, cpu_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--files", default="*")
    ap.add_argument("--op", choices=("compress", "decompress"), default="compress")
    args = ap.parse_args()
    tools = {p.name: p for p in peer_registry.load_all(lambda *a: None)}
    zw, zn = tools["zipweights"], tools["zipnn"]
    names = sorted(n for n in os.listdir(CORPUS)
                   if n.endswith(".safetensors") and fnmatch.fnmatch(n, args.files))
    print(f"cpu: {cpu_model()}, {os.cpu_count()} cores; {zw.name} {zw.version} vs {zn.name} {zn.version}")
    print(f"{args.op}, MB/s of original bytes, median of {args.runs}")
    print("| file | threads | zipweights MB/s | zipnn MB/s | ratio | load |")
    print("|---|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            src = os.path.join(CORPUS, n)
            size = os.path.getsize(src)
            for t in (int(x) for x in args.threads.split(",")):
                times = {zw.name: [], zn.name: []}
                packed = {}
                if args.op == "decompress":
                    for p in (zw, zn):
                        packed[p.name] = os.path.join(tmp, p.name + ".packed")
                        p.compress_file(src, packed[p.name], t)
                for r in range(args.runs + 1):  # the first round warms both
                    for p in (zw, zn) if r % 2 else (zn, zw):
                        dst = os.path.join(tmp, p.name)
                        t0 = time.perf_counter()
                        if args.op == "compress":
                            p.compress_file(src, dst, t)
                        else:
                            p.decompress_file(packed[p.name], dst, t)
                        if r:
                            times[p.name].append(time.perf_counter() - t0)
                        os.remove(dst)
                for path in packed.values():
                    os.remove(path)
                a, b = (size / statistics.median(times[k]) / 1e6 for k in (zw.name, zn.name))
                load = open("/proc/loadavg").read().split()[0]
                print(f"| {n[:-12]} | {t} | {a:.0f} | {b:.0f} | {a / b:.2f} | {load} |", flush=True)


if __name__ == "__main__":
    main()
