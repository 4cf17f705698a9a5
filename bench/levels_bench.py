"""What each compression level buys and costs: size and compress/decompress speed of
every level, on the corpus (bench/corpus, `python bench/build_corpus.py`).

    python bench/levels_bench.py                      # the default subset, levels 1-9, 3 runs
    python bench/levels_bench.py --files '*.safetensors' --runs 5 --per-file
    python bench/levels_bench.py --files '*.safetensors' --extra /tmp/held/*.safetensors

Each cell is the whole job as `zipw` runs it (read from the page cache, code, write the
output into the page cache; compress computes the sha256 it records, decompress checks
every chunk's xxh3 as `zipw decompress` does by default), through zipweights.compress_file
and decompress_file, at --threads (default 1).
Speeds are MB/s of original bytes: the files' total bytes over the sum of their median
times, both over the process's CPU time (at one thread: MB/s per core, and steady on a
shared machine) and over wall time (what a user waits; noisy where others share it). The default subset is the corpus' two largest files (the fp32
ones) and one file of each other kind (bf16 and fp16 of both models, a 2:4-pruned and a
50 %-pruned bf16), so that every level runs in a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import zipweights  # noqa: E402  (the source tree's, not an installed copy)
from zipweights.codec import chain  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402

CORPUS = os.path.join(ROOT, "bench", "corpus")
SUBSET = (
    "minilm-fp32.safetensors", "craft-fp32.safetensors",
    "minilm-bf16.safetensors", "craft-bf16.safetensors",
    "minilm-fp16.safetensors", "craft-fp16.safetensors",
    "minilm-bf16-prune2of4.safetensors", "craft-bf16-prune50.safetensors",
)


def _files(pattern: str | None) -> list[str]:
    names = sorted(os.listdir(CORPUS)) if os.path.isdir(CORPUS) else []
    chosen = [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else [n for n in SUBSET if n in names]
    if not chosen:
        sys.exit(f"no corpus files{' matching ' + pattern if pattern else ''} in {CORPUS}: "
                 "run python bench/build_corpus.py")
    return [os.path.join(CORPUS, n) for n in chosen]


_BUFS: dict = {}  # one touched output buffer a file, reused: the in-memory decode's target


def _run_once(path: str, level: int, threads: int, tmp: str) -> tuple[int, ...]:
    """(compressed size, compress wall s, compress CPU s, decompress wall s, decompress CPU s,
    in-memory decode wall s, CPU s) of one round trip; CPU is this process's user + system
    time, all threads. The in-memory decode (ZipwFile.restore_into a warm buffer, every
    chunk's xxh3 checked) is the codec's part of a decompress without the file writes, whose
    cost swings with the page cache and the other jobs on a shared machine."""
    packed, back = os.path.join(tmp, "x.zipw"), os.path.join(tmp, "x.safetensors")
    w0, c0 = time.perf_counter(), time.process_time()
    stats = zipweights.compress_file(path, packed, threads=threads, level=level, force=True)
    w1, c1 = time.perf_counter(), time.process_time()
    zipweights.decompress_file(packed, back, threads=threads, force=True)  # every chunk's xxh3 checked
    w2, c2 = time.perf_counter(), time.process_time()
    if os.path.getsize(back) != os.path.getsize(path):
        raise SystemExit(f"{path}: level {level} did not restore the file")
    buf = _BUFS.get(path)
    if buf is None:
        buf = _BUFS[path] = bytearray(os.path.getsize(path))  # zero-filled: touched
    with zipweights.ZipwFile(packed) as z:
        w3, c3 = time.perf_counter(), time.process_time()
        z.restore_into(buf, threads=threads)
        w4, c4 = time.perf_counter(), time.process_time()
    return stats.compressed_size, w1 - w0, c1 - c0, w2 - w1, c2 - c1, w4 - w3, c4 - c3


def _measure(files, levels, threads: int, runs: int) -> dict:
    """(level, file) -> (size, median compress wall, CPU, decompress wall, CPU, in-memory decode wall, CPU).
    Runs go round all levels and files in turn, so that a burst of load on this shared
    machine falls on every level alike rather than on one."""
    samples: dict = {}
    with tempfile.TemporaryDirectory(prefix="zipw-levels-") as tmp:
        for r in range(runs):
            for lv in levels:
                for p in files:
                    got = _run_once(p, lv, threads, tmp)
                    prev = samples.setdefault((lv, p), [])
                    if prev and prev[0][0] != got[0]:
                        raise SystemExit(f"{p}: level {lv} is not deterministic ({prev[0][0]} then {got[0]} bytes)")
                    prev.append(got)
            print(f"run {r + 1} of {runs} done (load average {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    return {k: (v[0][0], *(statistics.median(x[i] for x in v) for i in range(1, 7))) for k, v in samples.items()}


def _machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", help="glob of corpus file names (default: the subset above)")
    ap.add_argument("--extra", nargs="*", default=[], help="more files, outside the corpus (held-out weights)")
    ap.add_argument("--levels", default=f"{chain.MIN_LEVEL}-{chain.MAX_LEVEL}", help="e.g. 1-9 or 1,3,9")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--per-file", action="store_true", help="also one table a file")
    args = ap.parse_args()
    if "-" in args.levels:
        a, b = map(int, args.levels.split("-"))
        levels = list(range(a, b + 1))
    else:
        levels = [int(x) for x in args.levels.split(",")]
    files = _files(args.files) + [os.path.abspath(p) for p in args.extra]
    orig = {p: os.path.getsize(p) for p in files}
    total = sum(orig.values())
    load0 = os.getloadavg()[0]
    print(f"# levels: {len(files)} files, {total / 1e6:.1f} MB; threads {args.threads}; median of {args.runs}; "
          f"{_machine()}; load average {load0:.2f} at the start", flush=True)
    print("files: " + ", ".join(os.path.basename(p) for p in files), flush=True)
    cells = _measure(files, levels, args.threads, args.runs)

    def agg(lv):
        size = sum(cells[lv, p][0] for p in files)
        cw, cc, dw, dc, mw, mc = (sum(cells[lv, p][i] for p in files) for i in range(1, 7))
        return size, cw, cc, dw, dc, mc

    default = chain.DEFAULT_LEVEL if chain.DEFAULT_LEVEL in levels else levels[0]
    base = agg(default)
    print(f"\nMB/s of original bytes; CPU: over this process's CPU time (per core), wall: over elapsed time;"
          f" slowest: the lowest of the files' compress MB/s CPU; larger: files on which the level's output is"
          f" larger than the level below's; decode in memory: into a warm buffer, no file written.\n")
    print(f"| level | ratio | size vs {default} | compress MB/s CPU | wall | slowest | CPU time vs {default} | "
          f"decompress MB/s CPU | wall | decode in memory MB/s CPU | larger |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for lv in levels:
        size, cw, cc, dw, dc, mc = agg(lv)
        slowest = min(orig[p] / cells[lv, p][2] / 1e6 for p in files)
        below = levels[levels.index(lv) - 1] if levels.index(lv) else None
        larger = sum(cells[lv, p][0] > cells[below, p][0] for p in files) if below is not None else 0
        print(f"| {lv} | {size / total:.5f} | {100 * (size / base[0] - 1):+.3f} % | {total / cc / 1e6:.1f} | "
              f"{total / cw / 1e6:.1f} | {slowest:.1f} | {cc / base[2]:.2f}x | {total / dc / 1e6:.0f} | "
              f"{total / dw / 1e6:.0f} | {total / mc / 1e6:.0f} | {larger} |")
    if args.per_file:
        for p in files:
            print(f"\n{os.path.basename(p)} ({orig[p] / 1e6:.1f} MB)\n")
            print("| level | ratio | compress MB/s CPU | decompress MB/s CPU | decode in memory MB/s CPU |\n"
                  "|--:|--:|--:|--:|--:|")
            for lv in levels:
                size, _, cc, _, dc, _, mc = cells[lv, p]
                print(f"| {lv} | {size / orig[p]:.6f} | {orig[p] / cc / 1e6:.1f} | {orig[p] / dc / 1e6:.0f} | "
                      f"{orig[p] / mc / 1e6:.0f} |")
    # one line a file: the ratio at every level (the README's per-file table)
    print("\n| file | MB | " + " | ".join(str(lv) for lv in levels) + " |")
    print("|---|--:|" + "--:|" * len(levels))
    for p in files:
        print(f"| {os.path.basename(p).removesuffix('.safetensors')} | {orig[p] / 1e6:.1f} | "
              + " | ".join(f"{cells[lv, p][0] / orig[p]:.6f}" for lv in levels) + " |")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
