"""How long `zipw` takes to start: whole processes, as a shell runs them, beside zstd.

    python bench/startup_bench.py            # 20 rounds after a warm-up
    python bench/startup_bench.py --runs 50

What is timed is `zipw` as `pip install .` leaves it: a throwaway venv (no pip) whose
.pth file puts this source tree and the current interpreter's site-packages on sys.path
(numpy and the rest from there, their own .pth files not run), and console scripts
written from pyproject.toml's [project.scripts] in pip's template. Bytecode is cached
(under a temporary PYTHONPYCACHEPREFIX, written by the warm-up), as pip compiles every
module at install. This checkout's development install is timed too, as it is: an
editable install's finder runs at every start (about 15 ms here), and with
PYTHONDONTWRITEBYTECODE set (as in this environment) every module is compiled at
every start.

Rows: the interpreter alone, the interpreter importing numpy (the floor under any
command that codes data; also with one OpenBLAS thread, as zipw asks for it), `zipw --version`, `zipw compress` / `decompress` / `info`
of a 4 KB safetensors file (nearly all of the time is start-up), and zstd's
`--version` and compress of the same file when zstd is on PATH. The commands are run
in rounds, each round running every command once, so that they all see the same load
(this machine is shared); each figure is the median (and minimum) of --runs rounds in
milliseconds. The last column lists which heavy modules each zipw command imported,
from `python -X importtime` of the same entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import site
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model, load  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("numpy", "tqdm", "huggingface_hub", "zstandard", "xxhash", "safetensors", "zipweights._ckernels",
         "zipweights.writer", "zipweights.reader", "zipweights.hub.mirror")
# pip's console-script template (pip._vendor.distlib.scripts)
SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {func}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({func}())
"""


def _tiny_safetensors(path: str) -> None:
    n = 1000
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
    header += b" " * (-len(header) % 8)
    data = struct.pack(f"<{n}f", *((k % 97 - 48) / 1000 for k in range(n)))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def _installed(tmp: str) -> tuple[str, dict]:
    """(the bin folder of a venv laid out as after `pip install .`, its scripts)."""
    venv = os.path.join(tmp, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    py = os.path.join(venv, "bin", "python")
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(purelib, "zipweights-bench.pth"), "w") as f:
        f.write("\n".join([ROOT, *site.getsitepackages()]) + "\n")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    for name, target in scripts.items():
        module, func = target.split(":")
        path = os.path.join(venv, "bin", name)
        with open(path, "w") as f:
            f.write(SCRIPT.format(python=py, module=module, func=func))
        os.chmod(path, 0o755)
    return os.path.join(venv, "bin"), scripts


def _time_once(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    return dt


def _heavy_imports(py: str, target: str, args: list[str], env: dict) -> list[str]:
    """The HEAVY modules `zipw ARGS` imports (python -X importtime of the same entry point)."""
    module, func = target.split(":")
    code = f"import sys; from {module} import {func}; sys.exit({func}(sys.argv[1:]))"
    r = subprocess.run([py, "-X", "importtime", "-c", code, *args], capture_output=True, text=True, env=env)
    seen = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    return [m for m in HEAVY if m in seen]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    zstd = shutil.which("zstd")
    dev_zipw = shutil.which("zipw") or os.path.join(os.path.dirname(sys.executable), "zipw")
    with tempfile.TemporaryDirectory(prefix="zipw-startup-") as tmp:
        bindir, scripts = _installed(tmp)
        py, zipw = os.path.join(bindir, "python"), os.path.join(bindir, "zipw")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        src = os.path.join(tmp, "tiny.safetensors")
        packed = src + ".zipw"
        back = os.path.join(tmp, "back.safetensors")
        _tiny_safetensors(src)
        subprocess.run([zipw, "compress", "-q", src], check=True, env=env)
        c_args = ["compress", "-q", "-f", "-T", "1", src]
        d_args = ["decompress", "-q", "-f", "-T", "1", packed, "-o", back]
        rows = [  # (label, command, environment, zipw arguments for the import list)
            ("python -c pass", [py, "-c", "pass"], env, None),
            ("python -c 'import numpy'", [py, "-c", "import numpy"], env, None),
            ("OPENBLAS_NUM_THREADS=1 python -c 'import numpy'", [py, "-c", "import numpy"],
             dict(env, OPENBLAS_NUM_THREADS="1"), None),
            ("zipw --version", [zipw, "--version"], env, ["--version"]),
            ("zipw --help", [zipw, "--help"], env, ["--help"]),
            ("zipw compress (4 KB file)", [zipw, *c_args], env, c_args),
            ("zipw decompress (4 KB file)", [zipw, *d_args], env, d_args),
            ("zipw info (4 KB file)", [zipw, "info", packed], env, ["info", packed]),
        ]
        if os.path.exists(dev_zipw):
            rows += [("zipw --version, this checkout's venv as it is", [dev_zipw, "--version"], dict(os.environ), None),
                     ("zipw compress (4 KB), this checkout's venv as it is", [dev_zipw, *c_args], dict(os.environ),
                      None)]
        if zstd:
            rows += [("zstd --version", [zstd, "--version"], env, None),
                     ("zstd -q -f (4 KB file)", [zstd, "-q", "-f", src, "-o", os.path.join(tmp, "t.zst")], env, None)]
        times: list[list[float]] = [[] for _ in rows]
        load0 = load()
        for k in range(args.runs + 1):  # round 0: the warm-up (bytecode written), not counted
            for i, (_, cmd, e, _) in enumerate(rows):
                dt = _time_once(cmd, e)
                if k:
                    times[i].append(dt)
        load1 = load()
        print(f"# start-up: median (min) of {args.runs} interleaved rounds, ms; {cpu_model()}, "
              f"{os.cpu_count()} CPUs; load average {load0} at start, {load1} at the end")
        print(f"# zipw: {zipw} ({scripts['zipw']}), installed layout, bytecode cached; this checkout's: {dev_zipw}, "
              f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; "
              f"zstd: {zstd or 'not on PATH (the zstandard wheel has no command-line tool)'}")
        print("\n| command | median ms | min ms | heavy modules imported |\n|---|--:|--:|---|")
        for (label, _, e, zargs), ts in zip(rows, times):
            heavy = ""
            if zargs is not None:
                heavy = ", ".join(_heavy_imports(py, scripts["zipw"], zargs, e)) or "none"
            print(f"| `{label}` | {statistics.median(ts):.1f} | {min(ts):.1f} | {heavy} |", flush=True)


if __name__ == "__main__":
    main()
