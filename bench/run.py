#!/usr/bin/env python3
"""Benchmark zipweights against peer codecs on the corpus in bench/corpus/.

    python bench/run.py [--files GLOB] [--tools a,b] [--runs N] [--threads 1,2]
                        [--no-cache] [--machine NAME]

For every corpus file x tool x thread count: the round trip is checked first
(sha256 of the restored file == original), then compress and decompress are
timed as whole file-to-file jobs (read from page cache, code, write the output)
in this one process, imports excluded; the median of --runs runs is reported.
Slow compressors (zstd-19, z4ai-max, pcodec) get one compress run at 1 thread.
Results are cached in bench/cache/results.json keyed by file sha256 + tool +
version + threads, so a rerun only times what changed.

A full run (no --files/--tools) also writes bench/results/<machine>.md and
bench/results/sizes.csv.
"""
import argparse
import datetime
import fnmatch
import gc
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers as peer_registry  # noqa: E402
from peers.base import tensors  # noqa: E402
from machine import cpu_model  # noqa: E402  (bench/ is the script folder)

CORPUS = os.path.join(HERE, "corpus")
CACHE = os.path.join(HERE, "cache")
RESULTS = os.path.join(HERE, "results")
CACHE_FILE = os.path.join(CACHE, "results.json")
TMP = os.path.join(CACHE, "tmp")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()




def default_machine():
    words = [w for w in cpu_model().lower().replace("(r)", "").split()
             if w.isalnum() and w not in ("amd", "intel", "cpu", "processor", "core")]
    return f"{os.cpu_count()}core-{words[0] if words else 'cpu'}"


def mem_gib():
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        return f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "?"


def order0_limit(path):
    """Sum over tensors of n * H(histogram of whole values) in bits, /8, / file size."""
    data = np.fromfile(path, dtype=np.uint8)
    _, ts = tensors(data)
    views = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
    bits = 0.0
    for dtype, b, e in ts:
        width = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I64": 8, "U64": 8, "I32": 4,
                 "U32": 4, "I16": 2, "U16": 2}.get(dtype, 1)
        vals = data[b:e].view(views[width])
        if vals.size == 0:
            continue
        _, counts = np.unique(vals, return_counts=True)
        p = counts / vals.size
        bits += float(-(counts * np.log2(p)).sum())
    return bits / 8 / data.size


class Cache:
    def __init__(self, use):
        self.use = use
        self.data = {}
        if os.path.exists(CACHE_FILE):
            with open(CACHE_FILE) as f:
                self.data = json.load(f)

    def get(self, key, runs=0):
        r = self.data.get(key) if self.use else None
        if r is not None and r.get("ok") and len(r["dec_s"]) < runs:
            return None     # cached with fewer runs than asked for
        return r

    def put(self, key, value, persist=True):
        self.data[key] = value
        if persist:
            os.makedirs(CACHE, exist_ok=True)
            with open(CACHE_FILE + ".tmp", "w") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
            os.replace(CACHE_FILE + ".tmp", CACHE_FILE)


def timed(fn, runs):
    out = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def measure(comp, decomp, src_sha, runs, comp_runs):
    """comp(dst) / decomp(src, dst) are file jobs. Round trip first, then timing.

    A slow compressor (comp_runs == 1) is not run twice: its one timed compress is
    the one whose output the round trip checks, and the time is kept only if it passes.
    """
    os.makedirs(TMP, exist_ok=True)
    cpath, dpath = os.path.join(TMP, "c.bin"), os.path.join(TMP, "d.bin")
    try:
        first = timed(lambda: comp(cpath), 1)
        decomp(cpath, dpath)
    except Exception as e:
        return {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
    if sha256_file(dpath) != src_sha:
        return {"ok": False, "error": "round trip mismatch"}
    size = os.path.getsize(cpath)
    ct = first if comp_runs == 1 else timed(lambda: comp(cpath), comp_runs)
    dt = timed(lambda: decomp(cpath, dpath), runs)
    if os.path.getsize(cpath) != size:
        return {"ok": False, "error": "compressed size changed between runs"}
    for p in (cpath, dpath):
        os.remove(p)
    return {"ok": True, "size": size, "comp_s": ct, "dec_s": dt, "load1": os.getloadavg()[0],
            "when": datetime.datetime.now().isoformat(timespec="seconds")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", default="*", help="glob over bench/corpus/ names")
    ap.add_argument("--tools", default="", help="comma list of tool names (default all)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--machine", default=default_machine())
    ap.add_argument("--budget-min", type=float, default=0,
                    help="stop starting new measurements after this many minutes "
                         "(cells left are shown as n/m); 0 = no limit")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]

    names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".safetensors")
                   and fnmatch.fnmatch(n, args.files)) if os.path.isdir(CORPUS) else []
    if not names:
        sys.exit("no corpus files: run python bench/build_corpus.py first")
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    peers = peer_registry.load_all(log)
    if args.tools:
        want = args.tools.split(",")
        peers = [p for p in peers if p.name in want]
    cache = Cache(not args.no_cache)

    files = {}
    for n in names:
        path = os.path.join(CORPUS, n)
        sha = sha256_file(path)
        key = f"{sha}|order0"
        if cache.get(key) is None:
            cache.put(key, {"limit": order0_limit(path)})
        files[n] = {"path": path, "sha": sha, "size": os.path.getsize(path),
                    "order0": cache.data[key]["limit"]}

    results = {}   # (file, tool, threads) -> entry
    deadline = time.time() + 60 * args.budget_min if args.budget_min else float("inf")

    def cell(key, label, version, comp, decomp, sha, size, comp_runs):
        r = cache.get(key, args.runs)
        if r is not None:
            return r
        if time.time() > deadline:
            return {"ok": False, "skipped": True, "error": "not measured (--budget-min)"}
        log(label + " ...")
        r = measure(comp, decomp, sha, args.runs, comp_runs)
        cache.put(key, r, persist=".dirty" not in version)
        log("   " + (f"ratio {r['size'] / size:.4f}" if r["ok"] else r["error"]))
        return r

    # Fast tools first, the slowest last, so a time budget cuts the slow ones.
    for p in sorted(peers, key=lambda p: (p.slow, p.name == "z4ai-max")):
        for n, f in files.items():
            for t in ([min(threads)] if p.slow else threads):
                results[(n, p.name, t)] = cell(
                    f"{f['sha']}|{p.name}|{p.version}|{t}", f"{n}  {p.name} {p.version}  threads={t}",
                    p.version, lambda dst: p.compress_file(f["path"], dst, t),
                    lambda src, dst: p.decompress_file(src, dst, t), f["sha"], f["size"],
                    1 if p.slow else args.runs)
            # XOR delta vs base for the fine-tune file, where the tool has a delta mode.
            base = n.replace("-ft.safetensors", ".safetensors")
            bpath = os.path.join(CORPUS, base)
            if p.has_delta and n.endswith("-ft.safetensors") and os.path.exists(bpath):
                bsha = sha256_file(bpath)
                for t in threads:
                    results[(n, p.name + " Δbase", t)] = cell(
                        f"{f['sha']}|{bsha}|{p.name}-delta|{p.version}|{t}",
                        f"{n}  {p.name} delta vs {base}  threads={t}", p.version,
                        lambda dst: p.compress_delta_file(f["path"], bpath, dst, t),
                        lambda src, dst: p.decompress_delta_file(src, bpath, dst, t),
                        f["sha"], f["size"], args.runs)

    md = render(args, files, peers, results, threads)
    print(md)
    if args.files == "*" and not args.tools:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, f"{args.machine}.md"), "w") as fh:
            fh.write(md)
        write_sizes(files, results, threads)
        log(f"wrote bench/results/{args.machine}.md and bench/results/sizes.csv")
    else:
        log("partial selection: results files not written")


def mbps(size, secs):
    if not secs:
        return "–"
    v = size / 1e6 / statistics.median(secs)
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def render(args, files, peers, results, threads):
    tools = [p.name for p in peers]
    lines = [f"# zipweights benchmark: {args.machine}", ""]
    lines += [f"- date: {datetime.date.today().isoformat()}",
              f"- machine: {cpu_model()}, {os.cpu_count()} cores, {mem_gib()} RAM, "
              f"{platform.system()} {platform.release()}",
              f"- python {platform.python_version()}, numpy {np.__version__}",
              "- tools: " + ", ".join(f"{p.name} {p.version}" for p in peers),
              f"- timing: median of {args.runs} runs (slow compressors: 1 run, 1 thread); "
              "whole file-to-file job, page cache, one process, round trip checked first",
              "- command: `python bench/run.py" + (f" --runs {args.runs}" if args.runs != 3 else "")
              + (f" --threads {args.threads}" if args.threads != "1,2" else "")
              + (f" --budget-min {args.budget_min:g}" if args.budget_min else "")
              + f" --machine {args.machine}`", ""]

    t1 = min(threads)
    tools = [p.name for p in peers if not getattr(p, "speed_only", False)]  # same bytes as another
    lines += ["## Compressed size / original size (lower is better)", "",
              "order-0 = per-tensor entropy of whole values (the floor for a coder that "
              "sees each value independently)", ""]
    lines.append("| file | MB | order-0 | " + " | ".join(tools) + " |")
    lines.append("|---|--:|--:|" + "--:|" * len(tools))
    for n, f in files.items():
        row = [n.replace(".safetensors", ""), f"{f['size'] / 1e6:.1f}", f"{f['order0']:.4f}"]
        for tool in tools:
            r = results.get((n, tool, t1))
            row.append("–" if r is None else f"{r['size'] / f['size']:.4f}" if r["ok"]
                       else "n/m" if r.get("skipped") else "FAIL")
        lines.append("| " + " | ".join(row) + " |")

    cols = [f"comp {t}T" for t in threads] + [f"dec {t}T" for t in threads]
    lines += ["", "## Speed, MB/s of original bytes (median)", "",
              "| file | tool | ratio | " + " | ".join(cols) + " |",
              "|---|---|--:|" + "--:|" * len(cols)]
    spreads = []
    order = [x for t in (p.name for p in peers) for x in (t, t + " Δbase")]
    keys = sorted({(n, tool) for (n, tool, _) in results},
                  key=lambda k: (list(files).index(k[0]), order.index(k[1])))
    for n, tool in keys:
        size = files[n]["size"]
        rs = {t: results.get((n, tool, t)) for t in threads}
        ok = [r for r in rs.values() if r is not None and r["ok"]]
        if not ok:
            err = next((r["error"] for r in rs.values() if r), "")
            if not any(r and r.get("skipped") for r in rs.values()):
                lines.append(f"| {n.replace('.safetensors', '')} | {tool} | FAIL: {err} |")
            continue
        row = [n.replace(".safetensors", ""), tool, f"{ok[0]['size'] / size:.4f}"]
        for kind in ("comp_s", "dec_s"):
            for t in threads:
                r = rs[t]
                row.append(mbps(size, r[kind]) if r and r["ok"] else "–")
                if r and r["ok"] and len(r[kind]) >= 3:
                    spreads.append((max(r[kind]) - min(r[kind])) / statistics.median(r[kind]))
        lines.append("| " + " | ".join(row) + " |")
    loads = sorted(r["load1"] for r in results.values() if r.get("ok") and "load1" in r)
    if loads:
        lines += ["", f"Load average (1 min) at the end of each measurement: median "
                  f"{statistics.median(loads):.1f}, max {loads[-1]:.1f} on {os.cpu_count()} cores."]
    if spreads:
        spreads.sort()
        lines += ["", f"Noise: (max-min)/median over the runs of each timed cell: median "
                  f"{100 * statistics.median(spreads):.0f} %, 90th percentile "
                  f"{100 * spreads[int(0.9 * (len(spreads) - 1))]:.0f} % "
                  f"({len(spreads)} cells). The machine is shared."]
    lines += ["", "`Δbase`: the fine-tune file stored as the tool's delta (XOR) against its "
              "base (the bf16 file); the base is read at both ends and not counted in the size.",
              ""]
    return "\n".join(lines)


def write_sizes(files, results, threads):
    t1 = min(threads)
    with open(os.path.join(RESULTS, "sizes.csv"), "w") as f:
        f.write("file,original_bytes,tool,compressed_bytes,ratio\n")
        for (n, tool, t), r in sorted(results.items()):
            if t == t1 and r["ok"]:
                size = files[n]["size"]
                f.write(f"{n},{size},{tool},{r['size']},{r['size'] / size:.6f}\n")


if __name__ == "__main__":
    main()
