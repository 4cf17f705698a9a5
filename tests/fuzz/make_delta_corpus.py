"""Seeds of the delta targets' corpora (tests/fuzz/corpus/delta_*), run from anywhere with
the project venv: python tests/fuzz/make_delta_corpus.py [--out DIR]  (default: the
committed corpus folders; then minimize with `build/fuzz_T -merge=1`).

delta_decode gets real delta payloads with their base chunks (in its input layout: kind
byte, u16 payload length, payload, base): small chunks of the corpus fine-tune pairs
(bench/corpus/*-bf16-ft.safetensors against *-bf16, when present) and of synthetic
fine-tunes of every kind, coded by the kernel, plus payloads of the spec's pure-Python
encoder (spec/vectors/make_vectors.py: any op, C, elo and P 11..14). delta_struct gets
fixed choice strings over the kinds and flags; delta_roundtrip synthesized choice
strings and raw (base, chunk) pairs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

import zipweights._kernels as K  # noqa: E402


def add(out: str, target: str, data: bytes) -> None:
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def decode_input(kind: int, payload: bytes, base: bytes) -> bytes:
    return bytes([kind]) + struct.pack("<H", len(payload)) + payload + base


def make_vectors():
    spec = importlib.util.spec_from_file_location("zw_make_vectors", os.path.join(ROOT, "spec", "vectors", "make_vectors.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic(kind: int, n: int, rng) -> tuple[bytes, bytes]:
    """(chunk, base) of a light fine-tune: most values kept, the rest a few ULPs off or far"""
    v = rng.standard_normal(n).astype(np.float32) * np.float32(0.02)
    if kind == 0:
        import ml_dtypes

        b = v.astype(ml_dtypes.bfloat16).view(np.uint16).astype(np.int64)
        W = 16
    elif kind == 1:
        b = v.astype(np.float16).view(np.uint16).astype(np.int64)
        W = 16
    else:
        b = v.view(np.uint32).astype(np.int64)
        W = 32
    r = rng.random(n)
    d = np.where(r < 0.75, 0, np.where(r < 0.95, rng.integers(-3, 4, n), rng.integers(-(1 << 12), 1 << 12, n)))
    t = (b + d) & ((1 << W) - 1)
    u = np.uint16 if W == 16 else np.uint32
    return t.astype(u).tobytes(), b.astype(u).tobytes()


def corpus_chunks(limit: int = 1600):
    """small chunks (< limit bytes) of the corpus fine-tune pairs, BF16"""
    for model in ("minilm", "craft"):
        ft = os.path.join(ROOT, "bench", "corpus", f"{model}-bf16-ft.safetensors")
        bs = os.path.join(ROOT, "bench", "corpus", f"{model}-bf16.safetensors")
        if not (os.path.isfile(ft) and os.path.isfile(bs)):
            continue
        files = []
        for path in (ft, bs):
            raw = open(path, "rb").read()
            (hl,) = struct.unpack_from("<Q", raw)
            head = json.loads(raw[8 : 8 + hl])
            head.pop("__metadata__", None)
            files.append((raw[8 + hl :], head))
        (td, th), (bd, bh) = files
        for name, m in sorted(th.items()):
            if m["dtype"] != "BF16" or name not in bh:
                continue
            a, z = m["data_offsets"]
            if 64 <= z - a < limit:
                b0, b1 = bh[name]["data_offsets"]
                yield td[a:z], bd[b0:b1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    rng = np.random.default_rng(5)
    prng = random.Random(5)
    mv = make_vectors()
    # delta_decode: kernel payloads of real and synthetic chunks, with their bases
    for i, (t, b) in enumerate(corpus_chunks()):
        if i % 3 == 0:
            add(a.out, "delta_decode", decode_input(0, K.delta_encode(t, b, 0), b))
            add(a.out, "delta_roundtrip", bytes([0]) + b + t)
    for kind in (0, 1, 2):
        for n in (40, 511, 600, 1500, 2100):
            t, b = synthetic(kind, n, rng)
            add(a.out, "delta_decode", decode_input(kind, K.delta_encode(t, b, kind), b))
            add(a.out, "delta_roundtrip", bytes([kind]) + b + t)
        # the spec encoder: P 11..14, both ops, windows at the ends of the exponents
        for P, op, C, elo in ((12, 1, 16, 100), (13, 0, 3, 120), (14, 1, 1, 0), (11, 0, 16, 0)):
            t, b = synthetic(kind, 700, rng)
            W = 32 if kind == 2 else 16
            tv = struct.unpack(f"<{700}{'I' if W == 32 else 'H'}", t)
            bv = struct.unpack(f"<{700}{'I' if W == 32 else 'H'}", b)
            elo_k = min(elo, 31) if kind == 1 else elo
            add(a.out, "delta_decode", decode_input(kind, mv.delta_payload(tv, bv, kind, op, C, elo_k, P), b))
    # delta_struct: choice strings (kind, flags = 0 valid or one hostile flag, n, ...)
    for kind in (0, 1, 2):
        for flags in (0, 0, 0, 1, 2, 4, 8, 16, 32):
            for n in (300, 1099, 0x8000 | 5000, 0xC000 | 13000):
                body = bytes(prng.randrange(256) for _ in range(60))
                head = bytes([kind, flags]) + struct.pack("<H", n) + bytes([prng.randrange(2), prng.randrange(16),
                                                                              120 if kind != 1 else 12, prng.randrange(4)])
                add(a.out, "delta_struct", head + body)
    # delta_roundtrip: synthesized chunks (byte 0 bit 2), some twice encoded (bit 3)
    for kind in (0, 1, 2):
        for k in range(6):
            body = bytes(prng.randrange(256) for _ in range(40))
            add(a.out, "delta_roundtrip", bytes([kind | 4 | (8 if k % 2 else 0) | (16 * k)]) + body)
    for t in ("delta_decode", "delta_struct", "delta_roundtrip"):
        d = os.path.join(a.out, t)
        print(t, len(os.listdir(d)), "seeds in", d)


if __name__ == "__main__":
    main()
