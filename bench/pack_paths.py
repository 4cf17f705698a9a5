"""Float-encoder speed with each raw-field pack path (PEXT, shift/mask fold, scalar) on a
corpus file, one process per path (the CPU is probed once per process), median of 5.

    python bench/pack_paths.py [bench/corpus/craft-bf16.safetensors] [level]
"""
from __future__ import annotations

import os
import subprocess
import sys

from machine import cpu_model

_RUN = r"""
import statistics, sys, time
import json, struct
from zipweights import _kernels as K
from zipweights.codec import chain
from zipweights import dtypes
lv = chain.Level.of(int(sys.argv[2]))
raw = open(sys.argv[1], "rb").read()
hlen = struct.unpack("<Q", raw[:8])[0]
bufs = []
for name, t in json.loads(raw[8:8 + hlen]).items():
    if name == "__metadata__" or t["dtype"] not in ("BF16", "F16", "F32"):
        continue
    a, b = t["data_offsets"]
    bufs.append((raw[8 + hlen + a:8 + hlen + b], chain.float_kind(dtypes.BY_NAME[t["dtype"]])))
n = sum(len(b) for b, _ in bufs)
times = []
for _ in range(5):
    t0 = time.perf_counter()
    for b, k in bufs:
        K.float_encode(b, k, lv.float_search)
    times.append(time.perf_counter() - t0)
print(f"{n / statistics.median(times) / 1e6:.0f}")
"""




def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/corpus/craft-bf16.safetensors"
    level = sys.argv[2] if len(sys.argv) > 2 else "3"
    print(f"cpu: {cpu_model()}; load: {open('/proc/loadavg').read().split()[:3]}")
    for name, env in (("pext", {"ZW_NO_PEXT": "0"}), ("fold", {"ZW_NO_PEXT": "1"}),
                      ("scalar", {"ZW_NO_SIMD": "1"})):
        out = subprocess.run([sys.executable, "-c", _RUN, path, level], capture_output=True,
                             text=True, check=True, env={**os.environ, "ZW_NO_SIMD": "0", **env})
        print(f"{os.path.basename(path)} level {level} {name}: float_encode "
              f"{out.stdout.strip()} MB/s")


if __name__ == "__main__":
    main()
