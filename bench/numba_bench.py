"""The Numba kernels against the C kernels, in the same run: whole-file encode and decode
MB/s (of the original size) at one thread on corpus files, medians of several runs, and
ZipNN's decode of the same file in the same run (input_format="byte", one thread; the three
decoders take turns run by run, each into a fresh output buffer it returns); then
the Numba JIT's first-call cost in a fresh interpreter, with an empty disk cache (it
compiles) and with the cache it left (it loads).

    python bench/numba_bench.py [--runs 5] [FILE ...]   (default: two corpus files)

Both backends run in this one process: zipweights._kernels' functions are swapped
between zipweights._ckernels and zipweights._numba (the codec calls them by attribute),
so the figures differ by the kernels only. Every decode is checked against the
original, every encode against the other backend's bytes."""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import zipweights  # noqa: E402
from zipweights import _ckernels, _kernels, _numba, writer  # noqa: E402
from machine import cpu_model  # noqa: E402  (bench/ is the script folder)

DEFAULT = [os.path.join(ROOT, "bench", "corpus", f) for f in ("minilm-bf16.safetensors", "craft-fp32.safetensors")]


def use(mod):
    for name in _kernels.KERNELS:
        setattr(_kernels, name, getattr(mod, name))


def encode(data: bytes) -> bytes:
    out = io.BytesIO()
    writer.write(writer.source_from_safetensors(data), out, threads=1)
    return out.getvalue()


def decode(blob: bytes) -> bytearray:
    # a fresh output buffer, returned as is (ZipNN's decompress returns its own fresh
    # buffer too); no copy into bytes, which the earlier harness timed on top (26 ms of
    # the 45 MB file: page faults, not decoding)
    with zipweights.ZipwFile(blob) as zf:
        out = ALLOC[0](zf.original_size)
        zf.restore_into(out, threads=1)
    return out


# the output buffer: a bytearray (default), or --alloc numpy: np.empty, which Linux backs
# with transparent huge pages (numpy asks for them): ~25 ms fewer page faults on 45 MB here
ALLOC = [bytearray]


def timed(fn, runs):
    ts, res = [], None
    for _ in range(runs):
        t = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), res




def bench_file(path, runs):
    data = open(path, "rb").read()
    mb = len(data) / 1e6
    row = {"file": os.path.basename(path), "MB": mb}
    blobs = {}
    for name, mod in (("c", _ckernels), ("numba", _numba)):
        use(mod)
        encode(data)  # warm: the JIT compiles, scratch grows
        t, blob = timed(lambda: encode(data), max(2, runs // 2))
        blobs[name] = blob
        row[f"{name} enc"] = mb / t
    assert blobs["c"] == blobs["numba"], "the backends encode different bytes"
    row["ratio"] = len(data) / len(blobs["c"])
    from zipnn import ZipNN

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from peers.tool_zipnn import float_dtype

    z = ZipNN(input_format="byte", bytearray_dtype=float_dtype(data), threads=1).compress(bytearray(data))
    blob = blobs["c"]

    def dec_with(mod):
        def f():
            use(mod)
            return decode(blob)

        return f

    decoders = {"c": dec_with(_ckernels), "numba": dec_with(_numba),
                "zipnn": lambda: ZipNN(input_format="byte", threads=1).decompress(z)}
    # the three decoders take turns, run by run, so that each sees the same load on this
    # shared machine; medians per decoder
    ts = {k: [] for k in decoders}
    for k, f in decoders.items():
        assert bytes(memoryview(f()).cast("B")) == data, f"{k}: the decode is not the original"
    for _ in range(runs):
        for k, f in decoders.items():
            t = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t)
    for k in decoders:
        row[f"{k} dec"] = mb / statistics.median(ts[k])
        row[f"{k} ms"] = 1e3 * statistics.median(ts[k])
    # where a decode's time goes: one more run per backend with every kernel call timed
    # (the rest is the reader's: the fresh buffer's page faults, xxh3 per chunk, Python)
    for name, mod in (("c", _ckernels), ("numba", _numba)):
        spent = [0.0]

        def timed_kernel(fn):
            def f(*a):
                t = time.perf_counter()
                try:
                    return fn(*a)
                finally:
                    spent[0] += time.perf_counter() - t

            return f

        for k in _kernels.KERNELS:
            setattr(_kernels, k, timed_kernel(getattr(mod, k)))
        decode(blob)
        row[f"{name} kernel ms"] = 1e3 * spent[0]
    return row


FIRST_CALL = textwrap.dedent(
    """
    import sys, time
    t0 = time.perf_counter()
    import zipweights, zipweights._kernels as K
    from zipweights import writer
    import io
    assert K.BACKEND == "numba"
    t1 = time.perf_counter()
    blob = open(sys.argv[1], "rb").read()
    with zipweights.ZipwFile(blob) as zf:
        out = bytearray(zf.original_size); zf.restore_into(out, threads=1)
    t2 = time.perf_counter()
    buf = io.BytesIO(); writer.write(writer.source_from_safetensors(bytes(out)), buf, threads=1)
    t3 = time.perf_counter()
    print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
    """
)


def first_call(sample_zipw: str):
    """(import, first decode, first encode) seconds: cold (empty cache) and warm"""
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, ZIPWEIGHTS_KERNELS="numba", NUMBA_CACHE_DIR=cache)
        for label in ("empty cache", "disk cache"):
            r = subprocess.run([sys.executable, "-c", FIRST_CALL, sample_zipw], env=env, capture_output=True,
                               text=True, cwd=tempfile.gettempdir(), check=True)
            res[label] = [float(x) for x in r.stdout.split()]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", default=DEFAULT)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--alloc", choices=("bytearray", "numpy"), default="bytearray",
                    help="the decodes' output buffer (numpy: np.empty, huge pages where Linux gives them)")
    a = ap.parse_args()
    if a.alloc == "numpy":
        import numpy as np

        ALLOC[0] = lambda n: np.empty(n, np.uint8)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load {open('/proc/loadavg').read().split()[:3]}; "
          f"numba {__import__('numba').__version__}; one thread; medians of {a.runs} runs "
          f"(encode: {max(2, a.runs // 2)}); output buffers: {a.alloc}")
    print("| file | MB | ratio | C enc | Numba enc | C dec | Numba dec | Numba/C dec | ZipNN dec | "
          "C / Numba / ZipNN decode ms | of which in kernels: C / Numba ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    sample = None
    for path in a.files:
        r = bench_file(path, a.runs)
        print(f"| {r['file']} | {r['MB']:.1f} | {r['ratio']:.3f} | {r['c enc']:.0f} | {r['numba enc']:.0f} | "
              f"{r['c dec']:.0f} | {r['numba dec']:.0f} | {r['numba dec'] / r['c dec']:.2f} | {r['zipnn dec']:.0f} | "
              f"{r['c ms']:.0f} / {r['numba ms']:.0f} / {r['zipnn ms']:.0f} | "
              f"{r['c kernel ms']:.0f} / {r['numba kernel ms']:.0f} |",
              flush=True)
    # the first-call cost: a small file of every float kind's chunks
    with tempfile.NamedTemporaryFile(suffix=".zipw", delete=False) as f:
        use(_ckernels)
        data = open(a.files[0], "rb").read()
        hl = int.from_bytes(data[:8], "little")
        import json

        header = json.loads(data[8 : 8 + hl])
        names = [k for k in header if k != "__metadata__"][:8]
        body, head, off = [], {}, 0
        for k in names:  # the first few tensors, as a safetensors file of their own
            b, e = header[k]["data_offsets"]
            body.append(data[8 + hl + b : 8 + hl + e])
            head[k] = dict(header[k], data_offsets=[off, off + e - b])
            off += e - b
        hj = json.dumps(head).encode()
        hj += b" " * (-len(hj) % 8)
        small = len(hj).to_bytes(8, "little") + hj + b"".join(body)
        f.write(encode(small))
        sample = f.name
    try:
        fc = first_call(sample)
    finally:
        os.unlink(sample)
    print(f"load after the runs: {open('/proc/loadavg').read().split()[:3]}")
    print("JIT first call (fresh interpreter, ZIPWEIGHTS_KERNELS=numba): import / first decode / first encode, s")
    for label, (imp, dec, enc) in fc.items():
        print(f"  {label}: {imp:.2f} / {dec:.2f} / {enc:.2f}")


if __name__ == "__main__":
    main()
