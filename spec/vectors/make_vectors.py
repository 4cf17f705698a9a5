#!/usr/bin/env python3
"""Regenerate the golden vectors in this folder: tiny originals, their .zipw, and
manifest.json (sha256 of both, the settings used, and whether the .zipw can be
reproduced byte for byte by any correct encoder build; see README.md).

    python spec/vectors/make_vectors.py          # rewrites the files next to this script
    python spec/vectors/make_vectors.py NAME...  # (re)writes only these; the others stay

The safetensors originals are written by the small writer below (not by zipweights),
so the vectors also check zipweights against an independent reading of the format.
Only rerun this on purpose: the .zipw files are the reference that later encoders and
decoders are checked against.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def safetensors_bytes(tensors, metadata=None) -> bytes:
    """tensors: list of (name, dtype name, shape, raw bytes), written in this order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + b"".join(t[3] for t in tensors)


def u16(values) -> bytes:
    return np.array(values, "<u2").tobytes()


def u32(values) -> bytes:
    return np.array(values, "<u4").tobytes()


BF16_SPECIALS = [
    0x0000, 0x8000,  # +0, -0
    0x7F80, 0xFF80,  # +inf, -inf
    0x7FC0, 0xFFC0, 0x7F81, 0x7FFF, 0xFFC1, 0xFF81,  # NaNs: quiet, negative, payloads, signalling
    0x0001, 0x007F, 0x8001, 0x807F,  # subnormals
    0x0080, 0x7F7F, 0xFF7F,  # smallest normal, largest finite
    0x3F80, 0xBF80, 0x4049, 0x3C23,  # 1, -1, pi, ~0.01
]
F32_SPECIALS = [
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000,
    0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0xFFC12345, 0x7FFFFFFF,
    0x00000001, 0x007FFFFF, 0x80000001, 0x807FFFFF,
    0x00800000, 0x7F7FFFFF, 0x3F800000, 0xBF800000,
]


def vectors():
    rng = np.random.default_rng(20261123)

    special = (BF16_SPECIALS * 3)[:48]
    noise = rng.integers(0, 1 << 16, 96, dtype=np.uint16)
    yield {
        "name": "bf16_specials",
        "original": safetensors_bytes(
            [("special", "BF16", (4, 12), u16(special)), ("noise", "BF16", (96,), noise.astype("<u2").tobytes()),
             ("scalar", "BF16", (), u16([0x8000]))],
            {"vector": "bf16 NaN payloads, -0.0, inf, subnormals"},
        ),
        "settings": {"chunk_size": 64, "level": 3},
    }

    w = (np.sin(np.arange(512) * 0.37) * 0.05).astype(np.float32).view(np.uint32)
    w[::29] = np.array(F32_SPECIALS, np.uint32)
    yield {
        "name": "f32_basic",
        "original": safetensors_bytes(
            [("w", "F32", (16, 32), w.astype("<u4").tobytes()), ("b", "F32", (len(F32_SPECIALS),), u32(F32_SPECIALS))]
        ),
        "settings": {"chunk_size": 1024, "level": 3},
    }

    b = lambda n: rng.integers(0, 256, n, dtype=np.uint8).tobytes()  # noqa: E731
    yield {
        "name": "mixed_int_bool_f8",
        "original": safetensors_bytes(
            [
                ("bool", "BOOL", (5,), bytes([1, 0, 0, 1, 1])),
                ("u8", "U8", (7,), b(7)),
                ("i8", "I8", (3, 3), b(9)),
                ("i16", "I16", (4,), b(8)),
                ("u16", "U16", (2, 2), b(8)),
                ("i32", "I32", (3,), b(12)),
                ("u32.empty", "U32", (0,), b""),
                ("i64.scalar", "I64", (), struct.pack("<q", -42)),
                ("u64", "U64", (2,), b(16)),
                ("f64", "F64", (3,), struct.pack("<3d", -0.0, float("inf"), 5e-324)),
                ("f8_e4m3", "F8_E4M3", (6,), bytes([0x00, 0x80, 0x7F, 0xFF, 0x01, 0x38])),
                ("f8_e5m2", "F8_E5M2", (6,), bytes([0x00, 0x80, 0x7C, 0xFC, 0x7D, 0x01])),
                ("f8_e8m0", "F8_E8M0", (4,), bytes([0x00, 0x7F, 0xFE, 0xFF])),
                ("f16", "F16", (5,), u16([0x8000, 0x7C00, 0x7E01, 0x0001, 0x3C00])),
                ("c64", "C64", (2,), u32([0x3F800000, 0x80000000, 0x7FC00001, 0x00000001])),
                ("f4", "F4", (2, 3), b(3)),
                ("f6_e2m3", "F6_E2M3", (4,), b(3)),
                ("f6_e3m2", "F6_E3M2", (8,), b(6)),
                ("gguf_q4k", "Q4_K", (2, 5), b(10)),
                ("f32.empty", "F32", (0, 3), b""),
                ("i32.big", "I32", (40,), np.arange(-20, 20, dtype="<i4").tobytes()),
            ],
            {"vector": "every dtype, a 0-d and empty tensors, an unknown dtype"},
        ),
        "settings": {"chunk_size": 8, "level": 3},
    }

    raw = (rng.integers(0, 1 << 16, 150, dtype=np.uint16).astype("<u2").tobytes()) + b"\xAB"
    yield {
        "name": "raw_bf16_hint",
        "original": raw,  # 301 bytes: 150 BF16 values and one leftover byte
        "suffix": ".bin",
        "settings": {"chunk_size": 64, "level": 3, "dtype_hint": "BF16"},
    }

    # signs in runs (as in convolution kernels): the float payload splits its contexts
    # by the previous value's sign (mode 2)
    rng2 = np.random.default_rng(7)
    mag = np.abs(rng2.standard_normal(1024)) * 0.02
    sign = np.where(np.cumsum(rng2.random(1024) < 0.1) % 2 == 0, 1.0, -1.0)
    bf = ((mag * sign).astype(np.float32).view(np.uint32) >> 16).astype("<u2")  # truncated to bf16
    yield {
        "name": "bf16_sign_runs",
        "original": safetensors_bytes([("conv.weight", "BF16", (16, 8, 8), bf.tobytes())]),
        "settings": {"chunk_size": 4096, "level": 3},
    }


def encode(original: bytes, settings: dict) -> bytes:
    from zipweights import writer

    if settings.get("dtype_hint") is not None:
        source = writer.source_from_bytes(original, settings["dtype_hint"])
    else:
        source = writer.source_from_safetensors(original)
    out = io.BytesIO()
    writer.write(source, out, threads=1, level=settings["level"], chunk_size=settings["chunk_size"])
    return out.getvalue()


def reproducible(zipw: bytes) -> bool:
    """True when every chunk is STORE, or PLANES whose every plane is RAW: such payloads
    follow from the spec alone, with no dependence on the libzstd version or kernels."""
    from zipweights import ZipwFile
    from zipweights.codec import chain

    with ZipwFile(zipw) as zf:
        for e in zf.entries:
            for row in e.chunks:
                codec = int(row["codec"])
                if codec == chain.STORE:
                    continue
                if codec != chain.PLANES:
                    return False
                payload = zipw[int(row["offset"]) : int(row["offset"]) + int(row["length"])]
                pos = 0
                while pos < len(payload):
                    coder, length = struct.unpack_from("<BI", payload, pos)
                    if coder != 0:
                        return False
                    pos += 5 + length
    return True


def main() -> int:
    import zipweights

    only = set(sys.argv[1:])
    manifest = {"generator": "spec/vectors/make_vectors.py", "zipweights_version": zipweights.__version__,
                "format_version": 1, "vectors": []}
    if only:
        with open(os.path.join(HERE, "manifest.json")) as f:
            kept = {v["name"]: v for v in json.load(f)["vectors"]}
    for v in vectors():
        if only and v["name"] not in only:
            if v["name"] in kept:
                manifest["vectors"].append(kept[v["name"]])
            continue
        fname = v["name"] + v.get("suffix", ".safetensors")
        zipw = encode(v["original"], v["settings"])
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(v["original"])
        with open(os.path.join(HERE, fname + ".zipw"), "wb") as f:
            f.write(zipw)
        manifest["vectors"].append({
            "name": v["name"],
            "original": fname,
            "original_size": len(v["original"]),
            "original_sha256": hashlib.sha256(v["original"]).hexdigest(),
            "zipw": fname + ".zipw",
            "zipw_size": len(zipw),
            "zipw_sha256": hashlib.sha256(zipw).hexdigest(),
            "settings": v["settings"],
            "reencode_exact": reproducible(zipw),
        })
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    for v in manifest["vectors"]:
        print(f"{v['zipw']}: {v['original_size']} -> {v['zipw_size']} bytes, reencode_exact={v['reencode_exact']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
