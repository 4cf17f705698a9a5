"""Delta coder kernel speed (csrc/delta.c), in process: the corpus fine-tune pairs cut
into the writer's 1 MiB chunks, each chunk coded against its base chunk with
``_kernels.delta_encode`` and decoded back with ``_kernels.delta_decode``.

    python bench/kernels/delta_bench.py [--models minilm,craft] [--reps 7] [--simd 0|1|2]

Per model and SIMD level: the payload fraction of the fine-tune, the sha256 of all its
payloads (the encoder is deterministic: a change that keeps the format must keep this
digest), and encode / decode MB/s of bf16 input / output as the median over --reps
passes over every chunk, from the thread's CPU time (the machine is shared: wall time
counts other jobs' time slices too; it is printed beside it). The load average is
printed at the start and the end.

Every decoded chunk is compared with its original once, outside the timed passes.
Only BF16 tensors with a base tensor of the same name and shape are used (the I64
position ids are not floats); chunks under 64 bytes are skipped, as the writer stores
them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import zipweights._kernels as K  # noqa: E402

CHUNK = 1 << 20
KIND = {"BF16": 0, "F16": 1, "F32": 2}


def tensors(path: str) -> dict[str, tuple[str, list, memoryview]]:
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack_from("<Q", raw)
    head = json.loads(raw[8 : 8 + hlen])
    head.pop("__metadata__", None)
    data = memoryview(raw)[8 + hlen :]
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0] : v["data_offsets"][1]]) for k, v in head.items()}


def chunk_pairs(model: str) -> list[tuple[int, bytes, bytes]]:
    ft = tensors(os.path.join(ROOT, "bench", "corpus", f"{model}-bf16-ft.safetensors"))
    base = tensors(os.path.join(ROOT, "bench", "corpus", f"{model}-bf16.safetensors"))
    out = []
    for name, (dt, shape, t) in ft.items():
        if dt not in KIND or name not in base or base[name][:2] != (dt, shape):
            continue
        b = base[name][2]
        for o in range(0, len(t), CHUNK):
            c = bytes(t[o : o + CHUNK])
            if len(c) >= 64:
                out.append((KIND[dt], c, bytes(b[o : o + CHUNK])))
    return out


def timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.thread_time()
    fn()
    return time.thread_time() - c, time.perf_counter() - w


def bench(model: str, reps: int) -> dict:
    pairs = chunk_pairs(model)
    total = sum(len(c) for _, c, _ in pairs)
    payloads = [K.delta_encode(c, b, k) for k, c, b in pairs]
    outs = [bytearray(len(c)) for _, c, _ in pairs]
    for (k, c, b), p, o in zip(pairs, payloads, outs):
        K.delta_decode(p, b, k, o)
        if bytes(o) != c:
            raise SystemExit(f"{model}: a chunk does not decode to its original")
    digest = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in payloads)).hexdigest()
    enc = lambda: [K.delta_encode(c, b, k) for k, c, b in pairs]  # noqa: E731
    dec = lambda: [K.delta_decode(p, b, k, o) for (k, _, b), p, o in zip(pairs, payloads, outs)]  # noqa: E731
    te = [timed(enc) for _ in range(reps)]
    td = [timed(dec) for _ in range(reps)]
    mb = total / 1e6
    return {
        "model": model,
        "chunks": len(pairs),
        "MB": round(mb, 2),
        "ratio": round(sum(map(len, payloads)) / total, 5),
        "sha256": digest[:16],
        "enc_MBps": round(mb / statistics.median(t[0] for t in te)),
        "dec_MBps": round(mb / statistics.median(t[0] for t in td)),
        "enc_wall_MBps": round(mb / statistics.median(t[1] for t in te)),
        "dec_wall_MBps": round(mb / statistics.median(t[1] for t in td)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="minilm,craft")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--simd", default=None, help="comma-separated SIMD levels (0 scalar, 1 AVX2, 2 AVX-512); default: the CPU's")
    a = ap.parse_args()
    levels = [int(s) for s in a.simd.split(",")] if a.simd else [K._simd()]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for lv in levels:
        got = K._set_simd(lv)
        for m in a.models.split(","):
            r = bench(m, a.reps)
            print(f"simd {got} " + "  ".join(f"{k} {v}" for k, v in r.items()), flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
