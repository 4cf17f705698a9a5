"""How long `zipw` takes to start: whole processes, as a shell runs them, beside zstd.

    python bench/startup_bench.py            # 20 runs of each command after a warm-up
    python bench/startup_bench.py --runs 50

Times `zipw --version`, `zipw compress` / `decompress` / `info` of a tiny safetensors
file (4 KB: nearly all of the time is start-up), the interpreter alone and the interpreter
importing numpy (the floor under any command that codes data), and zstd's own
`--version` and compress of the same file when zstd is on PATH. Each figure is the
median (and minimum) wall time of --runs runs, in milliseconds. It also lists which of the
heavy modules each zipw command imported, from `python -X importtime`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HEAVY = ("numpy", "tqdm", "huggingface_hub", "zstandard", "xxhash", "safetensors", "zipweights._ckernels",
         "zipweights.writer", "zipweights.reader", "zipweights.hub.mirror")


def _tiny_safetensors(path: str) -> None:
    n = 1000
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
    header += b" " * (-len(header) % 8)
    data = struct.pack(f"<{n}f", *((k % 97 - 48) / 1000 for k in range(n)))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def _zipw() -> list[str]:
    exe = shutil.which("zipw") or os.path.join(os.path.dirname(sys.executable), "zipw")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "zipweights.cli"]


def _time(cmd: list[str], runs: int) -> tuple[float, float]:
    """(median, min) wall milliseconds of `cmd`, after one run not counted."""
    times = []
    for k in range(runs + 1):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
        if k:
            times.append(dt * 1000)
    return statistics.median(times), min(times)


def _heavy_imports(args: list[str]) -> list[str]:
    """The HEAVY modules `zipw ARGS` imports (python -X importtime of the same entry point)."""
    code = "import sys; from zipweights.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], capture_output=True, text=True)
    seen = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    return [m for m in HEAVY if m in seen]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    zipw = _zipw()
    zstd = shutil.which("zstd")
    with tempfile.TemporaryDirectory(prefix="zipw-startup-") as tmp:
        src = os.path.join(tmp, "tiny.safetensors")
        packed = src + ".zipw"
        back = os.path.join(tmp, "back.safetensors")
        _tiny_safetensors(src)
        subprocess.run([*zipw, "compress", "-q", src], check=True)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("python -c 'import numpy'", [sys.executable, "-c", "import numpy"], None),
            ("zipw --version", [*zipw, "--version"], ["--version"]),
            ("zipw compress (4 KB file)", [*zipw, "compress", "-q", "-f", "-T", "1", src], ["compress", "-q", "-f", "-T", "1", src]),
            ("zipw decompress (4 KB file)", [*zipw, "decompress", "-q", "-f", "-T", "1", packed, "-o", back],
             ["decompress", "-q", "-f", "-T", "1", packed, "-o", back]),
            ("zipw info (4 KB file)", [*zipw, "info", packed], ["info", packed]),
        ]
        if zstd:
            rows += [("zstd --version", [zstd, "--version"], None),
                     ("zstd -q -f (4 KB file)", [zstd, "-q", "-f", src, "-o", os.path.join(tmp, "t.zst")], None)]
        load0 = os.getloadavg()[0]
        print(f"# start-up: median (min) of {args.runs} runs, ms; {' '.join(zipw)}; load average {load0:.2f}")
        print("\n| command | median ms | min ms | heavy modules imported |\n|---|--:|--:|---|")
        for label, cmd, zargs in rows:
            med, low = _time(cmd, args.runs)
            heavy = ", ".join(_heavy_imports(zargs)) or "none" if zargs is not None else ""
            print(f"| `{label}` | {med:.1f} | {low:.1f} | {heavy} |", flush=True)
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end; zstd: {zstd or 'not on PATH'}")


if __name__ == "__main__":
    main()
