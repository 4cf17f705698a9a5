"""Whole-model ratio and speed of float_encode/float_decode on the real test models.
1-thread speeds use process CPU time (the shared machine is noisy), 2-thread ones wall time.

usage: python bench/kernels/bench_models.py [--chunk VALUES] [--level L] [--reps R] [models] [dtypes]
Ratio = sum of chunk payload sizes / sum of raw tensor bytes (all floating tensors)."""
import argparse, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
import zipweights._kernels as K

KIND = {"bf16": 0, "f16": 1, "f32": 2}
ap = argparse.ArgumentParser()
ap.add_argument("--chunk", type=int, default=256 * 1024)
ap.add_argument("--level", type=int, default=1)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--models", default="minilm,craft")
ap.add_argument("--dtypes", default="bf16,f16,f32")
ap.add_argument("--nospeed", action="store_true")
a = ap.parse_args()

for model in a.models.split(","):
    for dt in a.dtypes.split(","):
        kind = KIND[dt]; isz = 2 if kind < 2 else 4
        chunks = []
        for name, b in tensors(model, dt):
            for s in range(0, len(b), a.chunk * isz):
                chunks.append(b[s:s + a.chunk * isz])
        raw = sum(len(c) for c in chunks)
        t0 = time.perf_counter()
        pays = [K.float_encode(c, kind, a.level) for c in chunks]
        tenc = time.perf_counter() - t0
        comp = sum(len(p) for p in pays)
        outs = [bytearray(len(c)) for c in chunks]
        for p, o, c in zip(pays, outs, chunks):
            K.float_decode(p, kind, o)
            assert bytes(o) == c
        line = f"{model:7s} {dt:5s} ratio {comp / raw:.4f}  ({raw} -> {comp} bytes, {len(chunks)} chunks)"
        if not a.nospeed:
            def dec(i): K.float_decode(pays[i], kind, outs[i])
            def enc(i): K.float_encode(chunks[i], kind, a.level)
            res = {}
            for th in (1, 2):
                with ThreadPoolExecutor(th) as ex:
                    for nm, fn in (("dec", dec), ("enc", enc)):
                        ts = []
                        for r in range(a.reps if nm == "dec" else max(1, a.reps // 2)):
                            if th == 1:  # CPU time of this process: robust to a loaded machine
                                t0 = time.process_time(); [fn(i) for i in range(len(chunks))]; ts.append(time.process_time() - t0)
                            else:
                                t0 = time.perf_counter(); list(ex.map(fn, range(len(chunks)))); ts.append(time.perf_counter() - t0)
                        res[f"{nm}{th}"] = raw / np.median(ts) / 1e6
            line += "  MB/s: " + " ".join(f"{k} {v:.0f}" for k, v in res.items())
        print(line, flush=True)
