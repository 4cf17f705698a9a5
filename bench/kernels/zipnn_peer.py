"""ZipNN reference speed/ratio on this machine (run with a venv that has zipnn):
python zipnn_peer.py FILE DTYPE  (FILE = raw concatenated tensor bytes)"""
import sys, time
import numpy as np
from zipnn import ZipNN
data = open(sys.argv[1], "rb").read()
dt = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[sys.argv[2]]
for th in (1, 2):
    z = ZipNN(input_format="byte", bytearray_dtype=dt, threads=th)
    c = z.compress(data)
    ts = []; tc = []
    clk = time.process_time if th == 1 else time.perf_counter  # same clocks as bench_models.py
    for _ in range(5):
        t0 = clk(); d = z.decompress(c); ts.append(clk() - t0)
    for _ in range(2):
        t0 = clk(); z.compress(data); tc.append(clk() - t0)
    ok = bytes(d) == data  # zipnn 0.5.4 byte mode returns bf16 with the exponent bits shifted (bug)
    print(f"zipnn {sys.argv[2]} threads={th} ratio {len(c)/len(data):.4f} dec {len(data)/min(ts)/1e6:.0f} MB/s (median {len(data)/np.median(ts)/1e6:.0f}) enc {len(data)/min(tc)/1e6:.0f} MB/s roundtrip_ok={ok}")
