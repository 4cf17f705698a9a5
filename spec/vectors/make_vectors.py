#!/usr/bin/env python3
"""Regenerate the golden vectors in this folder: tiny originals, their .zipw, the error
vectors in errors/, and manifest.json (sha256 of every file, the settings used, the
modes each golden vector exercises, whether its .zipw can be reproduced byte for byte
by any correct encoder build, and the error each error vector must raise; see
README.md).

    python spec/vectors/make_vectors.py          # rewrites the files next to this script
    python spec/vectors/make_vectors.py NAME...  # (re)writes only these; the others stay

The safetensors originals are written by the small writer below (not by zipweights),
and the .zipw files are read and edited by the small container reader/writer below
(`parse_zipw`, `build_zipw`), written from spec/FORMAT.md: the vectors also check
zipweights against an independent reading of the format. Payloads the reference
encoder never writes are built by hand here (`float_payload_16`, a pure-Python float
payload encoder written from spec/CODERS.md; the `patch_*` functions). Only rerun this
on purpose: the .zipw files are the reference that later encoders and decoders are
checked against.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import sys

import numpy as np
import xxhash

HERE = os.path.dirname(os.path.abspath(__file__))
ERRORS = os.path.join(HERE, "errors")


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

    # -- every codec mode (issue #11): each vector's manifest entry lists the modes its
    # .zipw exercises, and the test re-derives that list from the file --------------------
    yield {
        "name": "planes_streams",
        "original": safetensors_bytes([("planes.i32", "I32", (1024,), planes_i32(1024, 3)),
                                       ("planes.f64", "F64", (16, 16), f64_weights(256, 4))]),
        "settings": {"chunk_size": 8192, "level": 3},
        "expect": {"planes.i32": ["stream:raw", "stream:zstd", "stream:ent", "ent_mode:1", "ent_mode:2"]},
    }

    yield {
        "name": "sparse_inner",
        "original": safetensors_bytes([
            ("sparse.store", "I32", (64,), sparse_i32(64, 8, 5)),
            ("sparse.planes", "I32", (1024,), sparse_i32(1024, 512, 6)),
            ("sparse.float", "BF16", (32, 64), sparse_bf16_2of4(2048, 7)),
        ]),
        "settings": {"chunk_size": 8192, "level": 3},
        "expect": {"sparse.store": ["sparse_inner:store"], "sparse.planes": ["sparse_inner:planes"],
                   "sparse.float": ["sparse_inner:float"]},
    }

    for name, level, table in (("float_level3", 3, FLOAT_LEVEL3), ("float_level6", 6, FLOAT_LEVEL6)):
        yield {
            "name": name,
            "original": safetensors_bytes([(t, dt, (n * (4 if FLOAT_KIND[dt] == 2 else 2) // FLOAT_UNIT[dt],), float_values(FLOAT_KIND[dt], n, **r))
                                           for t, dt, n, r, _ in table]),
            "settings": {"chunk_size": 8192, "level": level},
            "expect": {t: [f"float:{dt}:mode{m}:B{b}:", f":P{p}"] for t, dt, _, _, (m, b, p) in table},
        }

    yield {
        "name": "mixed_dtypes_coded",
        "original": safetensors_bytes(mixed_coded_tensors(8), {"vector": "every dtype, each coded (no stored chunk)"}),
        "settings": {"chunk_size": 4096, "level": 3},
        "expect": {"*": ["coded"]},
    }

    # FLOAT payload mode 0 and a PLANES stream in ent mode 0 are never smaller than a
    # STORE chunk, so no encoder writes them: they are patched in by hand
    yield {
        "name": "handmade_stored_modes",
        "original": safetensors_bytes([
            ("stored.bf16", "BF16", (512,), float_values(0, 512, 11, spread=4)),
            ("stored.f16", "F16", (512,), float_values(1, 512, 12, spread=4)),
            ("stored.f32", "F32", (256,), float_values(2, 256, 13, spread=4)),
            ("stored.c64", "C64", (128,), float_values(2, 256, 14, spread=4)),
            ("stored.i32", "I32", (256,), planes_i32(256, 15)),
        ]),
        "settings": {"chunk_size": 4096, "level": 3},
        "hand_built": "encoded at these settings, then every float chunk replaced by a FLOAT payload in "
                      "mode 0 (stored) and the I32 chunk by a PLANES payload whose four planes are ENT "
                      "streams in mode 0 (stored); payloads relaid, index and trailer rewritten",
        "patch": patch_stored_modes,
        "expect": {"stored.bf16": ["float:BF16:mode0"], "stored.f16": ["float:F16:mode0"],
                   "stored.f32": ["float:F32:mode0"], "stored.c64": ["float:C64:mode0"],
                   "stored.i32": ["stream:ent", "ent_mode:0"]},
    }

    # the largest table a float payload can hold (B = 12, all 4096 symbols used, P = 12):
    # the valid twin of errors/float_table_overflow.zipw, which differs in the P byte only
    yield {
        "name": "bf16_handmade_full_table",
        "original": safetensors_bytes([("full", "BF16", (64, 64), u16(full_table_h()))]),
        "settings": {"chunk_size": 8192, "level": 3},
        "hand_built": "encoded at these settings, then the chunk replaced by a FLOAT payload (mode 1, "
                      "B = 12, C = 1, P = 12, every symbol with weight code 1) written by the pure-Python "
                      "encoder in make_vectors.py (float_payload_16)",
        "patch": patch_full_table,
        "expect": {"full": ["float:BF16:mode1:B12:C1:P12"]},
    }

    # -- format version 2: delta files against a base model (spec/FORMAT.md 5.4, 7.5-7.8).
    # Each has a "base": the file beside it that it was coded against (recorded by its
    # name, so that it is found there), a safetensors original or another vector's .zipw.
    rb = np.random.default_rng(20261202)
    w, fb = weights(1536, rb), weights(256, rb)
    base = [("layer.0.w", "BF16", (48, 32), bf16(w)), ("layer.0.b", "BF16", (32,), bf16(weights(32, rb))),
            ("frozen.w", "BF16", (8, 32), bf16(fb)), ("retyped.w", "F16", (8, 16), f16(weights(128, rb)))]
    yield {
        "name": "delta_bf16_finetune",
        "base": ("delta_bf16_finetune.base.safetensors", safetensors_bytes(base)),
        "original": safetensors_bytes([
            ("layer.0.w", "BF16", (48, 32), finetune(base[0][3], "BF16", rb)),
            ("layer.0.b", "BF16", (32,), finetune(base[1][3], "BF16", rb, 0.05)),
            base[2],
            ("adapter.w", "BF16", (8, 32), bf16(weights(256, rb))),
            ("retyped.w", "BF16", (8, 16), bf16(weights(128, rb))),
        ], {"vector": "a bf16 fine-tune against its base"}),
        "settings": {"chunk_size": 2048, "level": 3},
        "expect": {"layer.0.w": ["codec:delta", "delta:BF16:op0"], "layer.0.b": ["transform1:alone"],
                   "frozen.w": ["codec:base"], "adapter.w": ["no_base_tensor"], "retyped.w": ["no_base_tensor"]},
    }

    base = [("w.f16", "F16", (32, 32), f16(weights(1024, rb))), ("w.f32", "F32", (256,), f32(weights(256, rb))),
            ("w.c64", "C64", (128,), f32(weights(256, rb)))]
    yield {
        "name": "delta_f16_f32_c64",
        "base": ("delta_f16_f32_c64.base.safetensors", safetensors_bytes(base)),
        "original": safetensors_bytes([(n, dt, sh, finetune(b, dt, rb)) for n, dt, sh, b in base]),
        "settings": {"chunk_size": 4096, "level": 3},
        "expect": {"w.f16": ["delta:F16:op0"], "w.f32": ["delta:F32:op0"], "w.c64": ["delta:C64:op0"]},
    }

    # one of the low 4 mantissa bits flipped in 30 % of the values: the XOR is one token
    # per bit, the ordinal difference two (+-2^k), so op 1 codes smaller
    base = [("flips.bf16", "BF16", (512,), bf16(weights(512, rb))),
            ("flips.f16", "F16", (512,), f16(weights(512, rb))),
            ("flips.f32", "F32", (256,), f32(weights(256, rb)))]
    yield {
        "name": "delta_op_xor",
        "base": ("delta_op_xor.base.safetensors", safetensors_bytes(base)),
        "original": safetensors_bytes([(n, dt, sh, flip_low_bits(b, dt, rb)) for n, dt, sh, b in base]),
        "settings": {"chunk_size": 4096, "level": 3},
        "expect": {"flips.bf16": ["delta:BF16:op1"], "flips.f16": ["delta:F16:op1"], "flips.f32": ["delta:F32:op1"]},
    }

    steps = rb.integers(0, 1000, 256).astype("<i4")
    d64 = rb.standard_normal(128) * 0.02
    e4 = (rb.standard_normal(1024) * 0.5).astype(ml_dtypes().float8_e4m3fn)
    yield {
        "name": "delta_xor_codec",
        "base": ("delta_xor_codec.base.safetensors", safetensors_bytes([
            ("i32.steps", "I32", (256,), steps.tobytes()), ("f64.w", "F64", (128,), d64.astype("<f8").tobytes()),
            ("f8.w", "F8_E4M3", (32, 32), e4.tobytes())])),
        "original": safetensors_bytes([
            ("i32.steps", "I32", (256,), (steps + (rb.random(256) < 0.3) * rb.integers(1, 4, 256)).astype("<i4").tobytes()),
            ("f64.w", "F64", (128,), (d64 + 2e-5 * rb.standard_normal(128)).astype("<f8").tobytes()),
            ("f8.w", "F8_E4M3", (32, 32),
             (e4.astype(np.float32) * (1 + 0.03 * rb.standard_normal(1024))).astype(e4.dtype).tobytes())]),
        "settings": {"chunk_size": 4096, "level": 3},
        "expect": {"i32.steps": ["codec:xor"], "f64.w": ["xor_inner:planes"], "f8.w": ["xor_inner:sparse"]},
    }

    embed = bf16(weights(512, rb))
    yield {
        "name": "copy_tied",
        "original": safetensors_bytes([
            ("embed", "BF16", (16, 32), embed), ("norm", "F32", (64,), f32(1 + weights(64, rb))),
            ("lm_head", "BF16", (16, 32), embed), ("out.b", "BF16", (32,), bf16(weights(32, rb)))]),
        "settings": {"chunk_size": 512, "level": 3},
        "expect": {"lm_head": ["codec:copy"]},
    }

    # a checkpoint series: step 1 against step 0 (a safetensors file), step 2 against
    # step 1's .zipw (a delta itself: a chain of two)
    frozen, w = bf16(weights(64, rb)), weights(1024, rb)
    chain = []
    for k in range(3):
        # no metadata: the steps' headers are the same bytes (errors/wrong_base_same_layout.zipw)
        chain.append(safetensors_bytes([("a.frozen", "BF16", (64,), frozen), ("w", "BF16", (32, 32), bf16(w))]))
        w = w + 2e-4 * rb.standard_normal(1024).astype(np.float32)
    yield {
        "name": "chain_step1",
        "base": ("chain_step0.safetensors", chain[0]),
        "original": chain[1],
        "settings": {"chunk_size": 4096, "level": 3},
        "expect": {"a.frozen": ["codec:base"], "w": ["codec:delta"]},
    }
    yield {
        "name": "chain_step2",
        "base": ("chain_step1.safetensors.zipw", None),  # the vector above
        "original": chain[2],
        "settings": {"chunk_size": 4096, "level": 3},
        "expect": {"a.frozen": ["codec:base"], "w": ["codec:delta"]},
    }

    # what the encoder never writes (it codes at P = 11 and never stores an XOR), each
    # DELTA payload written by the pure-Python encoder above (delta_payload)
    base, orig = handmade_delta_tensors(rb)
    yield {
        "name": "delta_handmade",
        "base": ("delta_handmade.base.safetensors", safetensors_bytes(base)),
        "original": safetensors_bytes(orig),
        "settings": {"chunk_size": 2048, "level": 3},
        "hand_built": "encoded against its base at these settings, then: every chunk of the p* tensors replaced "
                      "by a DELTA payload written by the pure-Python encoder in make_vectors.py (delta_payload) "
                      "with the op, context count C, first context exponent elo and precision P its name and "
                      "HANDMADE_DELTA give (16 contexts placed so that exponents below and above them clamp to "
                      "the end contexts; 5 % of the values random, so that every token up to T - 1 occurs); "
                      "xor.store and xor.float replaced by XOR payloads with inner codec STORE and FLOAT; "
                      "copy.partial (the first 1024 values of p12.bf16, a tensor of its own) by a COPY of chunk 0 "
                      "of p12.bf16; payloads relaid, index and trailer rewritten",
        "patch": patch_handmade_delta,
        "expect": {"p12.bf16": ["delta:BF16:op0:C16:P12"], "p13.bf16": ["delta:BF16:op1:C1:P13"],
                   "p14.bf16": ["delta:BF16:op0:C16:P14"], "p12.f16": ["delta:F16:op0:C16:P12"],
                   "p13.f16": ["delta:F16:op1:C1:P13"], "p14.f16": ["delta:F16:op0:C16:P14"],
                   "p14.f32": ["delta:F32:op0:C16:P14"], "xor.store": ["xor_inner:store"],
                   "xor.float": ["xor_inner:float"], "copy.partial": ["copy:partial"]},
    }


# -- data for the mode vectors ----------------------------------------------------------
def float_values(kind, n, seed, kbits=0, signrun=0.0, scales=0, block=0, spread=0.0, skew=0.92) -> bytes:
    """n weights-like values as little-endian bytes of float kind 0 (BF16), 1 (F16) or
    2 (F32). The knobs steer the float coder's choices (spec/CODERS.md section 3):
    `block`: the binade stays the same for runs of `block` values, drawn from `scales`
    binades (exponent contexts pay); else the magnitude is log-uniform over `spread`
    binades (wide alphabets: higher precision P pays); `signrun`: the sign flips with
    this probability from one value to the next (sign-split contexts, mode 2, pay);
    `kbits`: the top `kbits` mantissa bits are zero with probability `skew` (coding
    them pays: a larger symbol width B)."""
    rng = np.random.default_rng(seed)
    if block:
        e = rng.integers(0, scales, n // block + 1).repeat(block)[:n] - 10.0
        mag = (1 + rng.random(n)) * 2.0**e
    else:
        mag = 2.0 ** rng.uniform(-spread, 0, n) * (1 + rng.random(n))
    if signrun:
        sign = np.where(np.cumsum(rng.random(n) < signrun) % 2 == 0, 1.0, -1.0)
    else:
        sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    x = (mag * sign).astype(np.float32)
    if kind == 1:
        u, top, ones = x.astype(np.float16).view(np.uint16).copy(), 9, 0xFFFF
    else:
        u, top, ones = x.view(np.uint32).copy(), 22, 0xFFFFFFFF
    for b in range(kbits):
        m = rng.random(n) < skew
        u[m] &= u.dtype.type(~(1 << (top - b)) & ones)
    if kind == 0:
        return (u >> 16).astype("<u2").tobytes()
    return u.astype("<u2" if kind == 1 else "<u4").tobytes()


FLOAT_KIND = {"BF16": 0, "F16": 1, "F32": 2, "C64": 2}
FLOAT_UNIT = {"BF16": 2, "F16": 2, "F32": 4, "C64": 8}  # bytes per element

# (tensor, dtype, values (of the float kind), float_values knobs, what the level's
# encoder must choose: (mode, B, P)); each tensor is one chunk. Together: payload modes
# 1 and 2, every symbol width B of each kind and every table precision P for each float
# dtype: 11-13 at level 3 (P = 11 comes from the 16 sign-split contexts, whose tables
# the level-3 encoder keeps within 256 KiB), 14 at level 6 (from level 7 the encoder
# also tries PLANES and keeps the smaller, which may not be FLOAT).
FLOAT_LEVEL3 = [
    ("bf16.b9", "BF16", 2048, dict(seed=50019, signrun=0.02, scales=12, block=16), (2, 9, 11)),
    ("bf16.b10", "BF16", 4096, dict(seed=7359, kbits=1, spread=40), (1, 10, 13)),
    ("bf16.b11", "BF16", 512, dict(seed=59211, kbits=2, scales=8, block=64), (1, 11, 12)),
    ("bf16.b12", "BF16", 512, dict(seed=15447, kbits=3, signrun=0.02, scales=8, block=64), (2, 12, 12)),
    ("f16.b6", "F16", 512, dict(seed=43806, signrun=0.02, scales=8, block=16), (2, 6, 11)),
    ("f16.b7", "F16", 4096, dict(seed=8262, spread=20, skew=0.99), (1, 7, 13)),
    ("f16.b8", "F16", 512, dict(seed=87267, kbits=2, scales=8, block=64), (1, 8, 12)),
    ("f16.b9", "F16", 1024, dict(seed=79334, kbits=3, signrun=0.02, scales=12, block=16), (2, 9, 11)),
    ("f16.b10", "F16", 512, dict(seed=42242, kbits=4, scales=8, block=64), (1, 10, 12)),
    ("f16.b11", "F16", 512, dict(seed=54677, kbits=5, signrun=0.02, scales=12, block=64), (2, 11, 12)),
    ("f16.b12", "F16", 512, dict(seed=50230, kbits=6, scales=8, block=64), (1, 12, 12)),
    ("f32.b9", "F32", 1024, dict(seed=68981, signrun=0.02, scales=12, block=16), (2, 9, 11)),
    ("f32.b10", "F32", 2048, dict(seed=9360, kbits=1, spread=40, skew=0.99), (1, 10, 13)),
    ("f32.b11", "F32", 512, dict(seed=84318, kbits=2, scales=8, block=64), (1, 11, 12)),
    ("f32.b12", "F32", 512, dict(seed=79512, kbits=3, signrun=0.02, scales=8, block=64), (2, 12, 12)),
    ("c64.b9", "C64", 1024, dict(seed=66224, signrun=0.02, spread=20), (2, 9, 13)),
    ("c64.b10", "C64", 512, dict(seed=80778, kbits=1, scales=8, block=64), (1, 10, 12)),
    ("c64.b11", "C64", 1024, dict(seed=32891, kbits=2, signrun=0.02, scales=12, block=16), (2, 11, 11)),
    ("c64.b12", "C64", 512, dict(seed=99552, kbits=3, scales=8, block=64), (1, 12, 12)),
]
FLOAT_LEVEL6 = [
    ("bf16.p14", "BF16", 2048, dict(seed=94976, signrun=0.1, spread=40), (2, 9, 14)),
    ("f16.p14", "F16", 4096, dict(seed=8297, signrun=0.1, spread=20), (2, 7, 14)),
    ("f32.p14", "F32", 2048, dict(seed=9377, spread=40), (1, 9, 14)),
    ("c64.p14", "C64", 2048, dict(seed=9878, spread=40, skew=0.99), (1, 9, 14)),
]


def planes_i32(n, seed) -> bytes:
    """I32 values whose four byte planes call for four different stream codings: plane 0
    (top byte) constant (ENT mode 1), plane 1 skewed (ENT mode 2), plane 2 a repeated
    pattern (ZSTD), plane 3 noise (RAW)."""
    rng = np.random.default_rng(seed)
    p0 = np.zeros(n, np.uint32)
    p1 = rng.choice(np.array([0x10, 0x11, 0x13, 0x20, 0x7F], np.uint32), n, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    pat = rng.integers(0, 256, 29).astype(np.uint32)
    p2 = np.tile(pat, n // 29 + 1)[:n]
    p3 = rng.integers(0, 256, n).astype(np.uint32)
    return ((p0 << 24) | (p1 << 16) | (p2 << 8) | p3).astype("<u4").tobytes()


def f64_weights(n, seed) -> bytes:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 0.02).astype("<f8").tobytes()


def sparse_i32(n, nnz, seed) -> bytes:
    rng = np.random.default_rng(seed)
    v = np.zeros(n, "<i4")
    v[rng.choice(n, nnz, replace=False)] = rng.integers(-100, 100, nnz) | 1
    return v.tobytes()


def sparse_bf16_2of4(n, seed) -> bytes:
    """2:4 structured sparsity: two of every four values are zero."""
    v = np.frombuffer(float_values(0, n, seed, kbits=2, spread=3), "<u2").copy().reshape(-1, 4)
    rng = np.random.default_rng(seed + 1)
    keep = np.argsort(rng.random(v.shape), axis=1)[:, :2]
    mask = np.zeros(v.shape, bool)
    np.put_along_axis(mask, keep, True, axis=1)
    v[~mask] = 0
    return v.astype("<u2").tobytes()


def mixed_coded_tensors(seed):
    """One tensor of every dtype, each large and regular enough to be coded (PLANES,
    FLOAT or SPARSE), not stored: chunk-size 4096 vectors of real mixed files."""
    rng = np.random.default_rng(seed)

    def small(n, hi, dtype):  # small magnitudes: the top planes are constant
        return rng.integers(0, hi, n).astype(dtype).tobytes()

    def skewed_bytes(n, values):
        return rng.choice(np.array(values, np.uint8), n).tobytes()

    return [
        ("bool", "BOOL", (512,), (rng.random(512) < 0.2).astype(np.uint8).tobytes()),
        ("u8", "U8", (512,), small(512, 16, np.uint8)),
        ("i8", "I8", (512,), rng.integers(-8, 8, 512).astype(np.int8).tobytes()),
        ("u16", "U16", (256,), small(256, 300, "<u2")),
        ("i16", "I16", (256,), rng.integers(-300, 300, 256).astype("<i2").tobytes()),
        ("u32", "U32", (256,), small(256, 5000, "<u4")),
        ("i32", "I32", (256,), rng.integers(-5000, 5000, 256).astype("<i4").tobytes()),
        ("u64", "U64", (128,), small(128, 1 << 20, "<u8")),
        ("i64", "I64", (128,), rng.integers(-(1 << 20), 1 << 20, 128).astype("<i8").tobytes()),
        ("f16", "F16", (512,), float_values(1, 512, seed + 1, kbits=2, spread=3)),
        ("bf16", "BF16", (512,), float_values(0, 512, seed + 2, kbits=2, spread=3)),
        ("f32", "F32", (256,), float_values(2, 256, seed + 3, kbits=2, spread=3)),
        ("f64", "F64", (128,), f64_weights(128, seed + 4)),
        ("f8_e4m3", "F8_E4M3", (512,), skewed_bytes(512, [0x30, 0x31, 0x38, 0xB0, 0xB8, 0x28, 0xA8])),
        ("f8_e5m2", "F8_E5M2", (512,), skewed_bytes(512, [0x38, 0x39, 0x3C, 0xB8, 0xBC, 0x34, 0xB4])),
        ("f8_e8m0", "F8_E8M0", (512,), skewed_bytes(512, [0x7E, 0x7F, 0x80, 0x7D])),
        ("c64", "C64", (128,), float_values(2, 256, seed + 5, kbits=2, spread=3)),
        ("f4", "F4", (1024,), skewed_bytes(512, [0x00, 0x11, 0x12, 0x21, 0x9A, 0xA9])),
        ("f6_e2m3", "F6_E2M3", (512,), skewed_bytes(384, [0x00, 0x41, 0x10, 0x04])),
        ("f6_e3m2", "F6_E3M2", (512,), skewed_bytes(384, [0x00, 0x82, 0x20, 0x08])),
        ("gguf_q4k", "Q4_K", (4, 128), np.tile(rng.integers(0, 256, 37, dtype=np.uint8), 14)[:512].tobytes()),
    ]


# -- data for the delta vectors -----------------------------------------------------------
def ml_dtypes():
    import ml_dtypes as m

    return m


def weights(n, rng, std=0.02) -> np.ndarray:
    return (rng.standard_normal(n) * std).astype(np.float32)


def bf16(x) -> bytes:
    """float32 values rounded to bf16 (to nearest even, as torch casts)."""
    return np.asarray(x, np.float32).astype(ml_dtypes().bfloat16).tobytes()


def f16(x) -> bytes:
    return np.asarray(x, np.float32).astype("<f2").tobytes()


def f32(x) -> bytes:
    return np.asarray(x, np.float32).astype("<f4").tobytes()


_NP_FLOAT = {"BF16": lambda: ml_dtypes().bfloat16, "F16": lambda: np.float16, "F32": lambda: np.float32,
             "C64": lambda: np.float32}


def finetune(raw: bytes, dtype: str, rng, scale: float = 1e-3) -> bytes:
    """The corpus recipe for a fine-tune: every value + scale * std * noise, cast back
    (in bf16 and f16 about three quarters of the values keep their bits)."""
    t = _NP_FLOAT[dtype]()
    w = np.frombuffer(raw, t).astype(np.float32)
    out = w + scale * w.std() * rng.standard_normal(w.size).astype(np.float32)
    return out.astype(t).tobytes()


def flip_low_bits(raw: bytes, dtype: str, rng, frac: float = 0.3) -> bytes:
    u = np.frombuffer(raw, "<u2" if dtype in ("BF16", "F16") else "<u4").copy()
    m = rng.random(u.size) < frac
    u[m] ^= (1 << rng.integers(0, 4, int(m.sum()))).astype(u.dtype)
    return u.tobytes()


# (tensor, dtype, values, op, C, elo, P) of delta_handmade's hand-built DELTA chunks:
# 16-bit kinds at P = 12 (the decoders' table fits 32-bit entries), 13 and 14, one
# context and sixteen, both ops; F32 at P = 14 with its 72 tokens
HANDMADE_DELTA = [
    ("p12.bf16", "BF16", 1040, 0, 16, 108, 12), ("p13.bf16", "BF16", 520, 1, 1, 0, 13),
    ("p14.bf16", "BF16", 520, 0, 16, 108, 14), ("p12.f16", "F16", 520, 0, 16, 3, 12),
    ("p13.f16", "F16", 520, 1, 1, 0, 13), ("p14.f16", "F16", 520, 0, 16, 3, 14),
    ("p14.f32", "F32", 520, 0, 16, 108, 14),
]


def handmade_delta_tensors(rng):
    """(base tensors, fine-tune tensors) of delta_handmade: base values over 24 binades
    (F16: 32, subnormals included), more exponents than 16 contexts cover, so that both
    end contexts clamp (elo in HANDMADE_DELTA); the fine-tune keeps half of the values,
    moves 45 % by a few units in the last place and replaces 5 % by random bit patterns."""
    base, ft = [], []
    for name, dt, n, *_ in HANDMADE_DELTA:
        W = 16 if dt != "F32" else 32
        top = 8 if dt == "F16" else 0
        w = (2.0 ** rng.uniform(-24, top, n) * np.where(rng.random(n) < 0.5, 1, -1)).astype(np.float32)
        b = np.frombuffer(bf16(w) if dt == "BF16" else f16(w) if dt == "F16" else f32(w), f"<u{W // 8}")
        t = b.astype(np.int64) + np.where(rng.random(n) < 0.45, rng.integers(-3, 4, n), 0)
        wild = rng.random(n) < 0.05
        t[wild] = rng.integers(0, 1 << W, int(wild.sum()), dtype=np.int64)
        t = (t % (1 << W)).astype(f"<u{W // 8}")
        base.append((name, dt, (n,), b.tobytes()))
        ft.append((name, dt, (n,), t.tobytes()))
    x = np.frombuffer(bf16(weights(512, rng)), "<u2")
    xf = x ^ np.where(rng.random(512) < 0.3, 1 << rng.integers(0, 7, 512), 0).astype("<u2")
    i16 = rng.integers(-50, 50, 24).astype("<i2")
    base += [("xor.store", "I16", (24,), i16.tobytes()), ("xor.float", "BF16", (512,), x.tobytes())]
    ft += [("xor.store", "I16", (24,), (i16 ^ 1).tobytes()), ("xor.float", "BF16", (512,), xf.tobytes()),
           ("copy.partial", "BF16", (1024,), ft[0][3][:2048])]
    return base, ft


def st_tensors(original: bytes) -> dict:
    """name -> bytes of each tensor of a safetensors file."""
    (n,) = struct.unpack_from("<Q", original)
    header = json.loads(original[8 : 8 + n])
    header.pop("__metadata__", None)
    return {k: original[8 + n + v["data_offsets"][0] : 8 + n + v["data_offsets"][1]] for k, v in header.items()}


# -- the container, read and written from spec/FORMAT.md alone --------------------------
DTYPE_NAMES = ["OPAQUE", "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16",
               "F32", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "C64", "F4", "F6_E2M3", "F6_E3M2"]
CODECS = {0: "store", 1: "planes", 2: "float", 3: "sparse", 4: "delta", 5: "xor", 6: "base", 7: "copy"}
CODERS = {0: "raw", 1: "zstd", 2: "ent"}
STORE, PLANES, FLOAT, SPARSE, DELTA, XOR, BASE, COPY = range(8)
RAW, ZSTD, ENT = 0, 1, 2
MAGIC, TRAILER_MAGIC = b"\x89ZIPW\r\n\x1a", b"ZIPWIDX\x00"


def parse_zipw(z: bytes) -> dict:
    """The file as a dict of its fields (spec/FORMAT.md 3-5); every chunk carries its
    payload bytes, and a file with `has_base = 1` its base record (5.4) as `base`. No
    checks beyond what it takes to walk the structure."""
    ioff, ilen, _, tmagic = struct.unpack_from("<QQQ8s", z, len(z) - 32)
    assert tmagic == TRAILER_MAGIC
    idx = z[ioff : ioff + ilen]
    size, sha, skind, has_base, res6, plen = struct.unpack_from("<Q32sBB6sQ", idx, 0)
    pos = 56
    f = {"header": z[:16], "original_size": size, "sha256": sha, "source_kind": skind, "has_base": has_base,
         "reserved": res6, "prefix": idx[pos : pos + plen], "base": None, "entries": []}
    pos += plen
    if has_base == 1:
        bsha, bsize, bxxh, loc_len = struct.unpack_from("<32sQQI", idx, pos)
        pos += 52
        f["base"] = {"sha256": bsha, "size": bsize, "prefix_xxh3": bxxh, "location": idx[pos : pos + loc_len]}
        pos += loc_len
    (ne,) = struct.unpack_from("<I", idx, pos)
    pos += 4
    for _ in range(ne):
        kind, dtype, ndim, transform, nlen = struct.unpack_from("<BBBBI", idx, pos)
        pos += 8
        name = idx[pos : pos + nlen]
        pos += nlen
        shape = struct.unpack_from(f"<{ndim}Q", idx, pos)
        pos += 8 * ndim
        offset, length, csize, count = struct.unpack_from("<QQII", idx, pos)
        pos += 24
        chunks = []
        for _ in range(count):
            po, pl, codec, r3, ck = struct.unpack_from("<QIB3sQ", idx, pos)
            pos += 24
            chunks.append({"offset": po, "length": pl, "codec": codec, "reserved": r3, "checksum": ck,
                           "payload": z[po : po + pl]})
        f["entries"].append({"kind": kind, "dtype": dtype, "transform": transform, "name": name,
                             "shape": shape, "offset": offset, "length": length, "chunk_size": csize,
                             "chunks": chunks})
    f["index_tail"] = idx[pos:]
    return f


def index_bytes(f: dict) -> bytes:
    parts = [struct.pack("<Q32sBB6sQ", f["original_size"], f["sha256"], f["source_kind"], f.get("has_base", 0),
                         f["reserved"], f.get("prefix_length", len(f["prefix"]))), f["prefix"]]
    b = f.get("base")
    if b is not None:  # written whatever has_base says, so that a bad has_base can be written
        parts.append(struct.pack("<32sQQI", b["sha256"], b["size"], b["prefix_xxh3"],
                                 b.get("location_length", len(b["location"]))) + b["location"])
    parts.append(struct.pack("<I", len(f["entries"])))
    for e in f["entries"]:
        parts.append(struct.pack("<BBBBI", e["kind"], e["dtype"], len(e["shape"]), e["transform"], len(e["name"])))
        parts.append(e["name"])
        parts.append(struct.pack(f"<{len(e['shape'])}Q", *e["shape"]))
        parts.append(struct.pack("<QQII", e["offset"], e["length"], e["chunk_size"], len(e["chunks"])))
        for c in e["chunks"]:
            parts.append(struct.pack("<QIB3sQ", c["offset"], c["length"], c["codec"], c["reserved"], c["checksum"]))
    parts.append(f.get("index_tail", b""))
    return b"".join(parts)


def build_zipw(f: dict, payload_area: bytes | None = None) -> bytes:
    """The file for `f`: its chunks' payloads laid out in order after the header (their
    offsets and lengths rewritten), or, given `payload_area`, those bytes with the rows
    left as they are; then the index and a trailer with the index's xxh3-64."""
    out = bytearray(f["header"])
    if payload_area is None:
        for e in f["entries"]:
            for c in e["chunks"]:
                c["offset"], c["length"] = len(out), len(c["payload"])
                out += c["payload"]
    else:
        out += payload_area
    idx = index_bytes(f)
    ioff = len(out)
    out += idx
    out += struct.pack("<QQQ8s", ioff, len(idx), xxhash.xxh3_64_intdigest(idx), TRAILER_MAGIC)
    return bytes(out)


def chunk_of(f: dict, name: str, i: int = 0) -> dict:
    return next(e for e in f["entries"] if e["name"] == name.encode())["chunks"][i]


def streams(payload: bytes, pos: int = 0):
    """(coder, start, data) of each stream (coder u8, length u32, data) from `pos` on."""
    while pos < len(payload):
        coder, length = struct.unpack_from("<BI", payload, pos)
        yield coder, pos, payload[pos + 5 : pos + 5 + length]
        pos += 5 + length


def float_layout(p: bytes) -> dict:
    """Offsets of the parts of a coded float payload (spec/CODERS.md section 3)."""
    kind, mode, n = p[0], p[1], struct.unpack_from("<I", p, 2)[0]
    B, C, P = p[6], p[7], p[8]
    G = C // 2 if mode == 2 else C
    pos = 9 + G - 1
    (tlen,) = struct.unpack_from("<I", p, pos)
    lay = {"kind": kind, "mode": mode, "n": n, "B": B, "C": C, "P": P, "tables": pos + 4, "ent": []}
    pos += 4 + tlen
    if kind == 2:
        for _ in range(2):
            (ln,) = struct.unpack_from("<I", p, pos)
            lay["ent"].append(p[pos + 4 : pos + 4 + ln])
            pos += 4 + ln
    lay["raw"] = pos
    lay["stream"] = pos + (n * (16 - B) + 7) // 8
    return lay


def _payload_tags(codec: int, p: bytes, dt: str, tags: set) -> None:
    if codec == PLANES:
        for coder, _, data in streams(p):
            tags.add(f"stream:{CODERS.get(coder, coder)}")
            if coder == ENT:
                tags.add(f"ent_mode:{data[0]}")
    elif codec == FLOAT:
        if p[1] == 0:
            tags.add(f"float:{dt}:mode0")
        else:
            lay = float_layout(p)
            tags.add(f"float:{dt}:mode{lay['mode']}:B{lay['B']}:C{lay['C']}:P{lay['P']}")
            for e in lay["ent"]:
                tags.add(f"ent_mode:{e[0]}")
    elif codec == SPARSE:
        coder, _, data = next(streams(p, 4))  # after nnz (u32): the bitmap stream
        tags.add(f"bitmap:{CODERS.get(coder, coder)}")
        if coder == ENT:
            tags.add(f"ent_mode:{data[0]}")
        at = 4 + 5 + len(data)
        inner = p[at]
        tags.add(f"sparse_inner:{CODECS[inner]}")
        _payload_tags(inner, p[at + 1 :], dt, tags)
    elif codec == DELTA:  # after the u64 base check: the delta payload
        lay = delta_layout(p[8:])
        tags.add(f"delta:{dt}:op{lay['op']}:C{lay['C']}:P{lay['P']}")
        if lay["xlen"]:
            tags.add("delta:extra_bits")
    elif codec == XOR:  # after the u64 base check: the inner codec and its payload
        tags.add(f"xor_inner:{CODECS[p[8]]}")
        _payload_tags(p[8], p[9:], dt, tags)


def exercised(z: bytes) -> list[str]:
    """The modes a .zipw exercises, read from its bytes: `codec:X` per chunk codec,
    `chunk:DTYPE:X` per dtype and codec, `stream:X` per PLANES stream coder, `bitmap:X`
    per SPARSE bitmap coder, `ent_mode:N` per ent payload (PLANES and bitmap streams,
    F32 planes of float payloads), `sparse_inner:X`, and per float payload
    `float:DTYPE:mode0` or `float:DTYPE:modeM:Bb:Cc:Pp` (its mode, B, C and P bytes).
    Format version 2: per delta payload `delta:DTYPE:opO:Cc:Pp` (and `delta:extra_bits`
    where it has extra bits), `xor_inner:X` per XOR payload (and the tags of its inner
    payload), `copy:partial` for a COPY of a chunk of a longer or shorter entry;
    `base_record` and `location:KEY` for a file with a base record, `transform:1` per
    entry coded against the base, `transform1:alone` for such an entry's chunk coded
    without the base, `no_base_tensor` for a tensor coded alone in a file with a base,
    and `v2_without_base` for a version-2 file without one."""
    tags: set[str] = set()
    f = parse_zipw(z)
    if f["base"] is not None:
        tags.add("base_record")
        tags.update(f"location:{k}" for k in json.loads(f["base"]["location"]))
    elif struct.unpack_from("<H", z, 8)[0] == 2:
        tags.add("v2_without_base")
    for e in f["entries"]:
        _entry_tags(f, e, tags)
    return sorted(tags)


def _entry_tags(f: dict, e: dict, tags: set) -> None:
    dt = DTYPE_NAMES[e["dtype"]]
    if e["transform"] == 1:
        tags.add("transform:1")
    elif f["base"] is not None and e["kind"] == 0:
        tags.add("no_base_tensor")
    for c in e["chunks"]:
        tags.add(f"codec:{CODECS[c['codec']]}")
        tags.add(f"chunk:{dt}:{CODECS[c['codec']]}")
        if e["transform"] == 1 and c["codec"] < DELTA:
            tags.add("transform1:alone")
        if c["codec"] == COPY and f["entries"][struct.unpack("<I", c["payload"])[0]]["length"] != e["length"]:
            tags.add("copy:partial")
        _payload_tags(c["codec"], c["payload"], dt, tags)


# -- a pure-Python float payload encoder (spec/CODERS.md 1.2, 1.3 and 3) ---------------
class BitWriter:
    def __init__(self):
        self.bits = []

    def put(self, v: int, nb: int) -> None:
        self.bits += [(v >> i) & 1 for i in range(nb)]

    def gamma(self, v: int) -> None:
        nb = v.bit_length() - 1
        self.put(0, nb)
        self.put(1, 1)
        self.put(v, nb)

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(sum(bits[k + i] << i for i in range(8)) for k in range(0, len(bits), 8))


def _weight(q: int) -> int:
    return q if q < 32 else (16 + (q - 32) % 16) << (1 + (q - 32) // 16)


def normalize(q: dict, P: int) -> dict:
    """symbol -> (freq, start): spec/CODERS.md 1.2 normalization, exactly."""
    M = 1 << P
    syms = sorted(q)
    w = [_weight(q[s]) for s in syms]
    W = sum(w)
    imax = w.index(max(w))
    f = [max(1, wi * M // W) for wi in w]
    S = sum(f)
    if S < M:
        f[imax] += M - S
    if S > M:
        E, D = S - M, sum(fi - 1 for fi in f)
        f = [fi - (fi - 1) * E // D for fi in f]
        left = sum(f) - M
        while left > 0:
            for i in range(len(f)):
                if left and f[i] > 1:
                    f[i] -= 1
                    left -= 1
    out, start = {}, 0
    for s, fi in zip(syms, f):
        out[s] = (fi, start)
        start += fi
    return out


def write_table(bw: BitWriter, q: dict, B: int) -> None:
    syms = sorted(q)
    bw.put(len(syms), B + 1)
    prev, pq = -1, 0
    for k, s in enumerate(syms):
        bw.gamma(s - prev)
        if k == 0:
            bw.put(q[s], 8)
        else:
            d = q[s] - pq
            bw.gamma((2 * d if d >= 0 else -2 * d - 1) + 1)
        prev, pq = s, q[s]


def rans_order(n: int):
    seg = 16 * (n // 512)
    order = [(l * seg + i, l) for i in range(seg) for l in range(32)]
    return order + [(32 * seg + t, t % 32) for t in range(n - 32 * seg)]


def rans_encode(syms, ctx, tabs, P: int) -> bytes:
    """The 32-lane stream (spec/CODERS.md 1.3, the informative encoder)."""
    x, words, M = [1 << 15] * 32, [], 1 << P
    for j, l in reversed(rans_order(len(syms))):
        f, st = tabs[ctx[j]][syms[j]]
        if x[l] >= f << (31 - P):
            words.append(x[l] & 0xFFFF)
            x[l] >>= 16
        x[l] = (x[l] // f) * M + x[l] % f + st
    return struct.pack("<32I", *x) + struct.pack(f"<{len(words)}H", *reversed(words))


def float_payload_16(h, kind: int, B: int, P: int, qtables, thresholds=(), mode: int = 1) -> bytes:
    """A coded float payload of the 16-bit values `h` (kind 0 BF16 or 1 F16) with the given
    symbol width, precision, weight-code tables (one {symbol: q} per context) and
    thresholds. The tables are written as given (a hostile table is written too); the
    rANS stream is coded with their normalization at P."""
    EB = 8 if kind == 0 else 5
    E, w, C = (1 << EB) - 1, 16 - B, len(qtables)
    G = C // 2 if mode == 2 else C
    syms = [v >> w for v in h]

    def nextctx(s):
        e = (s >> (B - 1 - EB)) & E
        return sum(1 for t in thresholds if t <= e) + (G if mode == 2 and s >> (B - 1) else 0)

    ctx, cur = [0] * len(h), [0] * 32
    for j, l in rans_order(len(h)):
        ctx[j], cur[l] = cur[l], nextctx(syms[j])
    bw = BitWriter()
    for q in qtables:
        write_table(bw, q, B)
    tables = bw.bytes()
    raw = sum((v & ((1 << w) - 1)) << (j * w) for j, v in enumerate(h)).to_bytes((len(h) * w + 7) // 8, "little")
    tabs = [normalize(q, P) for q in qtables]
    head = bytes([kind, mode]) + struct.pack("<I", len(h)) + bytes([B, C, P]) + bytes(thresholds)
    return head + struct.pack("<I", len(tables)) + tables + raw + rans_encode(syms, ctx, tabs, P)


# -- a pure-Python delta payload encoder (spec/CODERS.md 4) -----------------------------
DELTA_W = {0: (16, 8), 1: (16, 5), 2: (32, 8)}  # kind: (W bits, EB exponent bits)


def delta_z(t: int, b: int, op: int, W: int) -> int:
    """The W-bit integer a value t codes as against its base value b."""
    if op == 1:
        return t ^ b
    S, Mk = 1 << (W - 1), (1 << W) - 1
    ordv = lambda v: v ^ Mk if v & S else v ^ S  # noqa: E731
    d = (ordv(t) - ordv(b)) & Mk
    d = d - (1 << W) if d & S else d  # signed, then zigzagged
    return 2 * d if d >= 0 else -2 * d - 1


def delta_token(z: int) -> tuple[int, int, int]:
    """(token, extra-bit count, extra bits) of z."""
    if z < 16:
        return z, 0, 0
    L = z.bit_length() - 1
    return 16 + 2 * (L - 4) + ((z >> (L - 1)) & 1), L - 1, z & ((1 << (L - 1)) - 1)


def q_for(count: int, total: int, P: int) -> int:
    """A weight code for a symbol seen `count` times of `total` (any code 1..191 is
    valid; the nearest weight to its share of 2^P codes well)."""
    want = max(1, count * (1 << P) // total)
    return min(range(1, 192), key=lambda q: (abs(_weight(q) - want), q))


def delta_payload(t, b, kind: int, op: int, C: int, elo: int, P: int, extra_tokens=()) -> bytes:
    """A delta payload of the values t (ints) against the base values b, with the given
    op, contexts and precision. Each context's table holds the tokens it codes, plus
    `extra_tokens` (weight code 1; a token >= T makes a hostile table)."""
    W, EB = DELTA_W[kind]
    B, emask = (6 if W == 16 else 7), (1 << EB) - 1
    n = len(t)
    ctx = [min(max(((bj >> (W - 1 - EB)) & emask) - elo, 0), C - 1) for bj in b]
    toks = [delta_token(delta_z(tj, bj, op, W)) for tj, bj in zip(t, b)]
    counts = [{} for _ in range(C)]
    for (k, _, _), c in zip(toks, ctx):
        counts[c][k] = counts[c].get(k, 0) + 1
    qtables = []
    for c in range(C):
        total = sum(counts[c].values())
        q = {k: q_for(v, total, P) for k, v in counts[c].items()} or {0: 1}  # an unused context: one symbol
        for k in extra_tokens:
            q.setdefault(k, 1)
        qtables.append(q)
    bw = BitWriter()
    for q in qtables:
        write_table(bw, q, B)
    tables = bw.bytes()
    xw = BitWriter()
    for j, _ in rans_order(n):  # the extra bits in the decoding order of their tokens
        _, nx, x = toks[j]
        xw.put(x, nx)
    extra = xw.bytes()
    tabs = [normalize(q, P) for q in qtables]
    head = bytes([kind, op]) + struct.pack("<I", n) + bytes([C, elo, P]) + struct.pack("<I", len(tables))
    return (head + tables + struct.pack("<I", len(extra)) + extra
            + rans_encode([k for k, _, _ in toks], ctx, tabs, P))


def delta_layout(p: bytes) -> dict:
    """Offsets of the parts of a delta payload (spec/CODERS.md 4)."""
    (tlen,) = struct.unpack_from("<I", p, 9)
    xat = 13 + tlen
    (xlen,) = struct.unpack_from("<I", p, xat)
    return {"kind": p[0], "op": p[1], "n": struct.unpack_from("<I", p, 2)[0], "C": p[6], "elo": p[7], "P": p[8],
            "tables": 13, "tlen": tlen, "xlen_at": xat, "extra": xat + 4, "xlen": xlen, "stream": xat + 4 + xlen}


# -- hand-built golden payloads ----------------------------------------------------------
def _check_decodes(codec: int, payload: bytes, dtype: str, original: bytes) -> None:
    from zipweights import dtypes
    from zipweights.codec import chain

    out = bytearray(len(original))
    chain.decode_chunk(codec, payload, dtypes.BY_NAME[dtype], memoryview(out))
    assert bytes(out) == original, "a hand-built payload does not decode to its chunk"


def patch_stored_modes(f: dict, original: bytes) -> None:
    for e in f["entries"]:
        dt = DTYPE_NAMES[e["dtype"]]
        (c,) = e["chunks"]
        raw = original[e["offset"] : e["offset"] + e["length"]]
        if dt in FLOAT_KIND:
            unit = 2 if dt in ("BF16", "F16") else 4
            c["codec"], c["payload"] = FLOAT, bytes([FLOAT_KIND[dt], 0]) + struct.pack("<I", len(raw) // unit) + raw
        else:  # I32: the four planes (plane 0 = top byte), each an ENT stream in mode 0
            v = np.frombuffer(raw, "<u4")
            planes = [((v >> (8 * (3 - p))) & 0xFF).astype(np.uint8).tobytes() for p in range(4)]
            ents = [b"\x00" + struct.pack("<I", len(pl)) + pl for pl in planes]
            c["codec"], c["payload"] = PLANES, b"".join(struct.pack("<BI", ENT, len(x)) + x for x in ents)
        _check_decodes(c["codec"], c["payload"], dt, raw)


def full_table_h(nsym: int = 4096) -> list[int]:
    """4096 BF16 values whose 12-bit symbols (sign, exponent, 3 mantissa bits) run
    through the first `nsym` symbols, each used about equally often."""
    return [(j % nsym) << 4 | (j * 7) % 16 for j in range(4096)]


def full_table_payload(P: int, nsym: int = 4096, bad_q: int | None = None) -> bytes:
    """Every value a different 12-bit symbol (B = 12: sign, exponent, 3 mantissa bits),
    all with weight code 1, one context: the uniform table of `nsym` symbols."""
    h = full_table_h(nsym)
    q = {s: 1 for s in range(nsym)}
    if bad_q is not None:
        q[0] = bad_q
    return float_payload_16(h, 0, 12, P, [q])


def patch_full_table(f: dict, original: bytes) -> None:
    (c,) = f["entries"][0]["chunks"]
    c["codec"], c["payload"] = FLOAT, full_table_payload(12)
    _check_decodes(FLOAT, c["payload"], "BF16", u16(full_table_h()))


def patch_handmade_delta(f: dict, original: bytes, base: bytes) -> None:
    from zipweights import _kernels

    ot, bt = st_tensors(original), st_tensors(base)
    spec = {name: rest for name, _, _, *rest in HANDMADE_DELTA}
    for k, e in enumerate(f["entries"]):
        name, dt = e["name"].decode(), DTYPE_NAMES[e["dtype"]]
        for i, c in enumerate(e["chunks"]):
            a, b = i * e["chunk_size"], min((i + 1) * e["chunk_size"], e["length"])
            t, bc = ot[name][a:b], bt[name][a:b] if name in bt else None
            check = struct.pack("<Q", xxhash.xxh3_64_intdigest(bc)) if bc is not None else b""
            if name in spec:
                op, C, elo, P = spec[name]
                fmt = "<%d%s" % (len(t) // (2 if dt != "F32" else 4), "H" if dt != "F32" else "I")
                c["codec"] = DELTA
                c["payload"] = check + delta_payload(struct.unpack(fmt, t), struct.unpack(fmt, bc), FLOAT_KIND[dt],
                                                     op, C, elo, P)
            elif name == "xor.store":
                c["codec"], c["payload"] = XOR, check + bytes([STORE]) + bytes(x ^ y for x, y in zip(t, bc))
            elif name == "xor.float":
                xored = bytes(x ^ y for x, y in zip(t, bc))
                c["codec"], c["payload"] = XOR, check + bytes([FLOAT]) + _kernels.float_encode(xored, 0, 3)
            elif name == "copy.partial":
                src = next(j for j, x in enumerate(f["entries"]) if x["name"] == b"p12.bf16")
                assert f["entries"][src]["length"] > e["length"] and k > src
                c["codec"], c["payload"] = COPY, struct.pack("<I", src)


def encode(original: bytes, settings: dict, base: str | None = None, location: dict | None = None) -> bytes:
    """The reference encoder's .zipw of `original`; with `base` (a path), coded against
    that base model, recording `location` (default: the base's file name, for a file
    that lies beside its base)."""
    from zipweights import basemodel, writer
    from zipweights.reader import ZipwFile

    if settings.get("dtype_hint") is not None:
        source = writer.source_from_bytes(original, settings["dtype_hint"])
    else:
        source = writer.source_from_safetensors(original)
    out = io.BytesIO()
    kw = dict(threads=1, level=settings["level"], chunk_size=settings["chunk_size"])
    if base is None:
        writer.write(source, out, **kw)
    else:
        with basemodel.open_base(base, ZipwFile) as bm:
            writer.write(source, out, base=bm, base_location=location or {"path": os.path.basename(base)}, **kw)
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


def make_golden(v: dict) -> bytes:
    """The .zipw of a golden vector: the reference encoder's output, hand-patched where
    the vector says so, and checked against what the vector expects of it."""
    from zipweights import ZipwFile

    base = os.path.join(HERE, v["base"][0]) if "base" in v else None
    z = encode(v["original"], v["settings"], base)
    if "patch" in v:
        f = parse_zipw(z)
        if base is None:
            v["patch"](f, v["original"])
        else:
            with open(base, "rb") as bf:
                v["patch"](f, v["original"], bf.read())
        z = build_zipw(f)
    with ZipwFile(z, base=base) as zf:  # hand-built or not, it decodes to its original
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=1)
        assert bytes(out) == v["original"], v["name"]
    f = parse_zipw(z)
    for name, wanted in v.get("expect", {}).items():
        for e in f["entries"]:
            if name not in ("*", e["name"].decode()):
                continue
            tags: set[str] = set()
            _entry_tags(f, e, tags)
            for want in wanted:
                if want == "coded":
                    ok = all(c["codec"] != STORE for c in e["chunks"])
                else:
                    ok = any(want in t for t in tags)
                assert ok, f"{v['name']}: {e['name'].decode()} does not exercise {want!r} (it has {sorted(tags)})"
    return z


# -- error vectors ------------------------------------------------------------------------
def error_base() -> bytes:
    """The valid file the error vectors edit: a BF16 tensor in one FLOAT chunk and an I32
    tensor in one PLANES chunk whose planes are ENT (mode 1), ENT (mode 2), ZSTD, RAW."""
    original = safetensors_bytes([
        ("w", "BF16", (32, 32), float_values(0, 1024, 4242, kbits=3, signrun=0.02, scales=4, block=16)),
        ("p", "I32", (1024,), planes_i32(1024, 3)),
    ])
    z = encode(original, {"chunk_size": 8192, "level": 3})
    f = parse_zipw(z)
    assert chunk_of(f, "w")["codec"] == FLOAT and chunk_of(f, "w")["payload"][1] in (1, 2)
    p = chunk_of(f, "p")
    assert p["codec"] == PLANES
    assert [(c, d[0] if c == ENT else None) for c, _, d in streams(p["payload"])] == [
        (ENT, 1), (ENT, 2), (ZSTD, None), (RAW, None)]
    return z


def _edit_payload(z: bytes, name: str, fn) -> bytes:
    f = parse_zipw(z)
    c = chunk_of(f, name)
    c["payload"] = fn(bytearray(c["payload"]))
    return build_zipw(f)


def _edit_stream(z: bytes, plane: int, fn) -> bytes:
    """Replace stream `plane` of tensor p's PLANES payload by fn(coder, data) -> (coder, data)."""
    def edit(p):
        out = b""
        for k, (coder, _, data) in enumerate(streams(bytes(p))):
            if k == plane:
                coder, data = fn(coder, bytearray(data))
            out += struct.pack("<BI", coder, len(data)) + bytes(data)
        return out
    return _edit_payload(z, "p", edit)


def _edit_index(z: bytes, fn) -> bytes:
    f = parse_zipw(z)
    fn(f)
    return build_zipw(f)


def _set(buf: bytearray, pos: int, fmt: str, *values) -> bytearray:
    struct.pack_into(fmt, buf, pos, *values)
    return buf


def _with_p(payload: bytes, P: int) -> bytes:
    """The float payload with its precision byte set to P."""
    return bytes(_set(bytearray(payload), 8, "B", P))


def _float_state(p: bytearray, value: int) -> bytearray:
    return _set(p, float_layout(bytes(p))["stream"], "<I", value)


def _single_float_file(h, payload: bytes) -> bytes:
    """A file of one BF16 tensor of the values `h` in one chunk whose payload is `payload`."""
    original = safetensors_bytes([("w", "BF16", (len(h),), u16(h))])
    f = parse_zipw(encode(original, {"chunk_size": 8192, "level": 3}))
    c = chunk_of(f, "w")
    c["codec"], c["payload"] = FLOAT, payload
    return build_zipw(f)


def _bomb() -> bytes:
    """256 chunks of 64 KiB of zeros (16 MiB) whose rows all point at one 11-byte payload
    (PLANES, one ENT stream in mode 1): checksums and sha256 all match."""
    n, size = 256, 1 << 16
    payload = struct.pack("<BI", ENT, 6) + b"\x01" + struct.pack("<I", size) + b"\x00"
    ck = xxhash.xxh3_64_intdigest(bytes(size))
    sha = hashlib.sha256()
    for _ in range(n):
        sha.update(bytes(size))
    f = {"header": MAGIC + struct.pack("<HHI", 1, 0, 0), "original_size": n * size, "sha256": sha.digest(),
         "source_kind": 0, "has_base": 0, "reserved": bytes(6), "prefix": b"",
         "entries": [{"kind": 1, "dtype": 0, "transform": 0, "name": b"", "shape": (n * size,), "offset": 0,
                      "length": n * size, "chunk_size": size,
                      "chunks": [{"offset": 16, "length": len(payload), "codec": PLANES, "reserved": bytes(3),
                                  "checksum": ck} for _ in range(n)]}]}
    return build_zipw(f, payload_area=payload)


def _declared_huge(total: int, chunk: int) -> bytes:
    """A safetensors original of one U8 tensor of `total` bytes in chunks of `chunk`,
    every payload empty: header, index and payload area are consistent (the empty
    payloads tile the empty payload area); only the size is too much."""
    count = -(-total // chunk)
    js = json.dumps({"big": {"dtype": "U8", "shape": [total], "data_offsets": [0, total]}},
                    separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    prefix = struct.pack("<Q", len(js)) + js
    f = {"header": MAGIC + struct.pack("<HHI", 1, 0, 0), "original_size": len(prefix) + total,
         "sha256": bytes(32), "source_kind": 1, "has_base": 0, "reserved": bytes(6), "prefix": prefix,
         "entries": [{"kind": 0, "dtype": 2, "transform": 0, "name": b"big", "shape": (total,),
                      "offset": len(prefix), "length": total, "chunk_size": chunk,
                      "chunks": [{"offset": 16, "length": 0, "codec": STORE, "reserved": bytes(3), "checksum": 0}
                                 for _ in range(count)]}]}
    return build_zipw(f, payload_area=b"")


def _last_stream_longer(p):
    *_, (coder, at, data) = streams(bytes(p))
    return _set(p, at + 1, "<I", len(data) + 1)


def _ent_nused(coder, d):
    # the 9-bit used-symbol count of the ENT table (at byte 9 of the ent payload) set to 300
    d[9] = 300 & 0xFF
    d[10] = (d[10] & 0xFE) | (300 >> 8)
    return coder, d


def _prefix_terabytes(f):
    f["original_size"] = f["prefix_length"] = 4 << 40


def errors():
    """(name, file bytes, error class, phrase of the message, reader options, what it is,
    payload the reference decoder must reject as (entry, chunk) or None)."""
    base = error_base()
    bf = lambda p: _edit_payload(base, "w", p)  # noqa: E731
    mode_byte = lambda m: (lambda p: _set(p, 1, "B", m))  # noqa: E731
    yield ("float_table_overflow", _single_float_file(full_table_h(), _with_p(full_table_payload(12), 11)),
           "CorruptDataError", "4096 symbols do not fit in a table of 2048 slots", {},
           "one FLOAT chunk of 4096 BF16 values, B = 12, P = 11, one table using all 4096 symbols with weight "
           "code 1 (spec/CODERS.md 1.2: nused <= min(2^B, 2^P)); with P = 12 it is the valid "
           "bf16_handmade_full_table payload. Decoders without the check overflowed their decode table", ("w", 0))
    yield ("float_table_sum_overflow", _single_float_file(
               full_table_h(2049), _with_p(full_table_payload(12, 2049), 11)),
           "CorruptDataError", "2049 symbols do not fit in a table of 2048 slots", {},
           "the smallest overflow: 2049 used symbols at P = 11, whose minimum frequencies (1 each) sum to "
           "M + 1 (valid with P = 12)", ("w", 0))
    yield ("float_table_weight_code", _single_float_file(full_table_h(), full_table_payload(12, bad_q=192)),
           "CorruptDataError", "weight code 192", {}, "a weight code of 192 (codes are 1..191)", ("w", 0))
    yield ("ent_table_nused", _edit_stream(base, 1, _ent_nused),
           "CorruptDataError", "300 symbols in an alphabet of 256", {},
           "an ENT stream whose table declares 300 used symbols of a byte alphabet", None)
    yield ("float_rans_state", bf(lambda p: _float_state(p, 1 << 31)),
           "CorruptDataError", "rANS state out of range", {},
           "the first rANS lane state of the FLOAT payload is 2^31 (states live in [2^15, 2^31))", ("w", 0))
    yield ("float_payload_truncated", bf(lambda p: p[:40]),
           "TruncatedDataError", "payload truncated", {}, "the FLOAT payload cut to its first 40 bytes", None)
    yield ("float_stream_truncated", bf(lambda p: p[:-2]),
           "TruncatedDataError", "rANS stream ends early", {},
           "the FLOAT payload without its last rANS word", None)
    yield ("ent_stream_truncated", _edit_stream(base, 1, lambda c, d: (c, d[:-2])),
           "TruncatedDataError", "rANS stream ends early", {}, "an ENT stream without its last rANS word", None)
    yield ("file_truncated", base[:-100], "TruncatedDataError", "file truncated", {},
           "the file without its last 100 bytes", None)
    yield ("float_payload_trailing", bf(lambda p: p + b"\x00\x00"),
           "CorruptDataError", "trailing bytes", {}, "two bytes after the FLOAT payload's rANS stream", None)
    yield ("planes_trailing", _edit_payload(base, "p", lambda p: p + b"\x00"),
           "CorruptDataError", "trailing bytes after the last plane", {},
           "a byte after the last stream of a PLANES payload", None)
    yield ("index_trailing", _edit_index(base, lambda f: f.update(index_tail=b"\x00")),
           "CorruptDataError", "trailing bytes after the index", {}, "a byte after the index's last entry", None)
    yield ("zstd_bytes_after_frame", _edit_stream(base, 2, lambda c, d: (c, d + b"\x00")),
           "CorruptDataError", "bytes after its frame", {}, "a ZSTD stream with a byte after its one frame", None)
    yield ("bad_magic", b"\x89ZIPX" + base[5:], "BadMagicError", "not a zipweights file", {},
           "the magic's fifth byte changed", None)
    yield ("unknown_version", base[:8] + struct.pack("<H", 3) + base[10:], "UnsupportedVersionError",
           "format version 3 exceeds max supported 2", {}, "format version 3", None)
    yield ("version_zero", base[:8] + struct.pack("<H", 0) + base[10:], "CorruptDataError",
           "format version 0 is invalid", {}, "format version 0", None)
    yield ("header_flags", base[:10] + struct.pack("<H", 1) + base[12:], "UnsupportedFeatureError",
           "unknown header flags", {}, "header flag bit 0 set (no version defines flags)", None)
    ioff = struct.unpack_from("<Q", base, len(base) - 32)[0]
    flipped = bytearray(base)
    flipped[ioff + 60] ^= 0x01  # inside the kept safetensors header
    yield ("index_checksum_mismatch", bytes(flipped), "ChecksumMismatchError", "index checksum mismatch", {},
           "one bit of the index flipped, the trailer's index hash left as it was", None)
    trailer = bytearray(base)
    trailer[-16] ^= 0x01
    yield ("trailer_hash_mismatch", bytes(trailer), "ChecksumMismatchError", "index checksum mismatch", {},
           "one bit of the trailer's index hash flipped", None)
    yield ("chunk_checksum_mismatch", _edit_index(base, lambda f: chunk_of(f, "p").update(
               checksum=chunk_of(f, "p")["checksum"] ^ 1)),
           "ChecksumMismatchError", "checksum mismatch (expected", {},
           "the chunk checksum of tensor p changed (index hash recomputed)", None)
    yield ("raw_plane_flipped", _edit_stream(base, 3, lambda c, d: (c, _set(d, 0, "B", d[0] ^ 0x40))),
           "ChecksumMismatchError", "checksum mismatch (expected", {},
           "one bit flipped in a RAW plane: the payload is well formed, the decoded chunk is not the original", None)
    yield ("sha256_mismatch", _edit_index(base, lambda f: f.update(sha256=bytes(32))),
           "ChecksumMismatchError", "sha256", {},
           "the original sha256 in the index zeroed (index hash recomputed): every chunk decodes, the whole "
           "file does not hash right", None)
    yield ("bomb_shared_payload", _bomb(), "CorruptDataError", "without gaps or overlaps", {},
           "256 chunks of 64 KiB (16 MiB) all pointing at one 11-byte payload; every checksum matches", None)
    yield ("limit_prefix_terabytes", _edit_index(base, _prefix_terabytes), "LimitExceededError",
           "prefix of 4398046511104 bytes exceeds", {},
           "an index declaring a 4 TiB original whose prefix is 4 TiB", None)
    yield ("limit_max_output_size", _declared_huge(1 << 36, 1 << 26), "LimitExceededError", "max_output_size",
           {"max_output_size": 1 << 34},
           "a consistent file declaring a 64 GiB U8 tensor (1024 chunks of 64 MiB, empty payloads), read with "
           "max_output_size = 16 GiB: refused before anything is allocated", None)
    yield ("limit_chunk_size", _edit_index(base, lambda f: f["entries"][0].update(chunk_size=1 << 27)),
           "LimitExceededError", "chunk size 134217728 exceeds", {}, "a chunk size of 2^27 bytes", None)
    sp = next(v for v in vectors() if v["name"] == "sparse_inner")
    sz = encode(sp["original"], sp["settings"])
    st = chunk_of(parse_zipw(sz), "sparse.store")["payload"]
    assert st[4] == RAW and st[14] == 0  # nnz, then a RAW bitmap stream of 8 bytes at 9
    yield ("sparse_bitmap_count", _edit_payload(sz, "sparse.store", lambda p: _set(p, 14, "B", 1)),
           "CorruptDataError", "bitmap marks 9 values", {},
           "a SPARSE chunk whose bitmap marks 9 values while nnz and the stored values say 8", None)
    yield ("unknown_codec", _edit_index(base, lambda f: chunk_of(f, "w").update(codec=9)),
           "UnsupportedFeatureError", "unknown chunk codec 9", {}, "chunk codec 9", None)
    yield ("unknown_stream_coder", _edit_stream(base, 3, lambda c, d: (7, d)),
           "UnsupportedFeatureError", "unknown stream coder 7", {}, "stream coder 7", None)
    yield ("float_unknown_mode", bf(mode_byte(3)), "CorruptDataError", "mode", {},
           "float payload mode 3", ("w", 0))
    yield ("planes_stream_past_end", _edit_payload(base, "p", _last_stream_longer), "TruncatedDataError",
           "declares", {}, "the last stream of a PLANES payload declares one byte more than the payload holds",
           None, {"xfail": "zipweights/codec/chain.py _take_stream raises CorruptDataError where the payload ends "
                           "inside a stream it declares (truncated, spec/FORMAT.md 1 and 7.2)"})
    yield from delta_errors()


# -- error vectors of format version 2 ------------------------------------------------------
ERROR_BASE = "error_delta.base.safetensors"  # beside the golden vectors (manifest "bases")


def error_delta_pair():
    """(base original, fine-tune original) of the small delta file the version-2 error
    vectors edit: two fine-tunes (BF16, F16: DELTA), a frozen tensor (BASE), an I32
    (XOR), a tensor not in the base, and a small F32 one."""
    rng = np.random.default_rng(1212)
    base = [("w", "BF16", (320,), bf16(weights(320, rng))), ("w16", "F16", (320,), f16(weights(320, rng))),
            ("frozen", "BF16", (32,), bf16(weights(32, rng))),
            ("i32", "I32", (64,), rng.integers(0, 1000, 64).astype("<i4").tobytes()),
            ("w32", "F32", (32,), f32(weights(32, rng)))]
    i32 = np.frombuffer(base[3][3], "<i4") + (rng.random(64) < 0.3) * rng.integers(1, 4, 64)
    ft = [("w", "BF16", (320,), finetune(base[0][3], "BF16", rng)),
          ("w16", "F16", (320,), finetune(base[1][3], "F16", rng)), base[2],
          ("i32", "I32", (64,), i32.astype("<i4").tobytes()), ("alone", "BF16", (16,), bf16(weights(16, rng))),
          ("w32", "F32", (32,), finetune(base[4][3], "F32", rng))]
    return safetensors_bytes(base), safetensors_bytes(ft)


def _with_base_file(data: bytes, fn):
    """fn(path) with `data` in a temporary file (the encoder reads a base from a file)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "base.safetensors")
        with open(path, "wb") as f:
            f.write(data)
        return fn(path)


def error_delta() -> bytes:
    """The valid delta file the version-2 error vectors edit; it records its base as
    ../error_delta.base.safetensors, where it is found from errors/."""
    base, ft = error_delta_pair()
    z = _with_base_file(base, lambda path: encode(ft, {"chunk_size": 2048, "level": 3}, path,
                                                  {"path": "../" + ERROR_BASE}))
    f = parse_zipw(z)
    assert [c["codec"] for e in f["entries"] for c in e["chunks"]][:4] == [DELTA, DELTA, BASE, XOR]
    return z


def error_copy() -> bytes:
    """A version-2 file without a base: embed (2 chunks), a same-size F32 tensor, a
    small BF16 one, two tied copies of embed (COPY), and a last tensor."""
    rng = np.random.default_rng(1213)
    embed = bf16(weights(64, rng))
    original = safetensors_bytes([
        ("embed", "BF16", (64,), embed), ("norm", "F32", (32,), f32(weights(32, rng))),
        ("small", "BF16", (32,), bf16(weights(32, rng))), ("lm_head", "BF16", (64,), embed),
        ("lm_head2", "BF16", (64,), embed), ("out.b", "BF16", (32,), bf16(weights(32, rng)))])
    z = encode(original, {"chunk_size": 64, "level": 3})
    f = parse_zipw(z)
    assert [c["codec"] for c in f["entries"][3]["chunks"] + f["entries"][4]["chunks"]] == [COPY] * 4
    assert struct.unpack_from("<H", z, 8)[0] == 2 and f["base"] is None
    return z


def _set_version(z: bytes, version: int) -> bytes:
    return z[:8] + struct.pack("<H", version) + z[10:]


def _set_base(f: dict, **fields) -> None:
    f["base"].update(fields)


def _record_of(original: bytes, path: str) -> dict:
    (n,) = struct.unpack_from("<Q", original)
    return {"sha256": hashlib.sha256(original).digest(), "size": len(original),
            "prefix_xxh3": xxhash.xxh3_64_intdigest(original[: 8 + n]),
            "location": json.dumps({"path": path}).encode()}


def _entry(f: dict, name: str) -> dict:
    return next(e for e in f["entries"] if e["name"] == name.encode())


def _delta_edit(fn):
    """An edit of the delta payload inside a DELTA chunk payload (after its u64 check)."""
    def edit(p):
        return p[:8] + bytes(fn(bytearray(p[8:])))
    return edit


def _extra_bits(fn):
    """Replace a delta payload's extra bits by fn(extra bytes) (xlen rewritten; tables
    and rANS stream as they were)."""
    def edit(d):
        lay = delta_layout(bytes(d))
        extra = fn(bytearray(d[lay["extra"] : lay["stream"]]))
        return d[: lay["xlen_at"]] + struct.pack("<I", len(extra)) + extra + d[lay["stream"] :]
    return _delta_edit(edit)


def _sparse_inner(codec: int):
    """Set the inner codec of the SPARSE payload inside an XOR payload."""
    def edit(p):
        assert p[8] == SPARSE
        _, _, bitmap = next(streams(bytes(p[9:]), 4))
        return _set(p, 9 + 4 + 5 + len(bitmap), "B", codec)
    return edit


def _gamma_table(d):
    bw = BitWriter()
    bw.put(1, 7)  # nused = 1 (B = 6)
    bw.put(0, 25)  # gamma: 25 zero bits, a 1, then 25 bits of its value
    bw.put(1, 1)
    bw.put(0, 25)
    bw.put(1, 8)  # the first weight code
    t = bw.bytes()
    lay = delta_layout(bytes(d))
    return d[:9] + struct.pack("<I", len(t)) + t + d[lay["xlen_at"] :]


def _last_word_cut(d):
    assert len(d) - delta_layout(bytes(d))["stream"] > 128  # words after the 32 lane states
    return d[:-2]


def _inside_extra(d) -> int:
    lay = delta_layout(bytes(d))
    assert lay["xlen"] >= 2
    return lay["extra"] + lay["xlen"] // 2


def _hostile_token(z: bytes, name: str, token: int) -> bytes:
    """The DELTA chunk of `name` rewritten by the pure-Python encoder with `token` (never
    used) added to every table: otherwise a valid payload of the same values."""
    base, ft = error_delta_pair()
    bt, ot = st_tensors(base), st_tensors(ft)
    f = parse_zipw(z)
    e = _entry(f, name)
    dt = DTYPE_NAMES[e["dtype"]]
    fmt = "<%d%s" % (e["length"] // (4 if dt == "F32" else 2), "I" if dt == "F32" else "H")
    payload = delta_payload(struct.unpack(fmt, ot[name]), struct.unpack(fmt, bt[name]), FLOAT_KIND[dt], 0, 1, 0, 11,
                            extra_tokens=(token,))
    e["transform"] = 1
    e["chunks"][0].update(codec=DELTA, payload=struct.pack("<Q", xxhash.xxh3_64_intdigest(bt[name])) + payload)
    return build_zipw(f)


def delta_errors():
    """The version-2 error vectors: (name, bytes, error, phrases, options, what, payload
    the reference decoder rejects, {"base": the base file to pass, ...})."""
    base_orig, ft_orig = error_delta_pair()
    z, zc = error_delta(), error_copy()
    chain0, chain1 = (open(os.path.join(HERE, n), "rb").read() for n in ("chain_step0.safetensors",
                                                                           "chain_step1.safetensors"))
    z1 = open(os.path.join(HERE, "chain_step1.safetensors.zipw"), "rb").read()
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    B = {"base": ERROR_BASE}
    idx = lambda fn: _edit_index(z, fn)  # noqa: E731
    pay = lambda name, fn: _edit_payload(z, name, fn)  # noqa: E731
    dl = lambda fn: pay("w", _delta_edit(fn))  # noqa: E731

    # -- the base: wrong, missing, of another layout, looping
    yield ("wrong_base", idx(lambda f: _set_base(f, location=b'{"path":"../chain_step0.safetensors"}')),
           "BaseMismatchError", ["wrong base model", sha(base_orig), sha(chain0)], {},
           "the error delta file given (and recording the path of) another base, chain_step0.safetensors: "
           "refused at once, its size differs; the message names both sha256s", None,
           {"base": "chain_step0.safetensors"})
    yield ("wrong_base_same_layout",
           _edit_index(z1, lambda f: _set_base(f, location=b'{"path":"../chain_step1.safetensors"}')),
           "BaseMismatchError", ["wrong base model", sha(chain0), sha(chain1)], {},
           "chain_step1 given chain_step1.safetensors (the same size and header as its base chain_step0): "
           "the BASE chunk of a.frozen matches (that tensor is the same), the DELTA chunk of w does not: "
           "the base check of its payload names both files", None, {"base": "chain_step1.safetensors"})
    yield ("missing_base", idx(lambda f: _set_base(f, location=b'{"path":"missing_base.safetensors"}')),
           "BaseNotFoundError", ["errors/missing_base.safetensors", sha(base_orig)], {},
           "no base given, and none where the file says (missing_base.safetensors beside it): the message "
           "names where it looked and the sha256 it needs", None, {"ref_decoder": "NoBase"})
    yield ("missing_base_absolute_path",
           idx(lambda f: _set_base(f, location=b'{"path":"/zipweights-vectors/error_delta.base.safetensors"}')),
           "BaseNotFoundError", ["looked in no recorded place"], {},
           "the recorded path is absolute: never followed (a downloaded file does not choose which local "
           "file is read)", None, {"ref_decoder": "NoBase"})
    yield ("base_other_layout", idx(lambda f: f["base"].update(_record_of(chain0, "../chain_step0.safetensors"))),
           "BaseMismatchError", ["its tensor 'w' is BF16 [32, 32], this file needs BF16 [320]"], {},
           "the base record names chain_step0.safetensors (its sha256, size and header hash: the base given "
           "is the one recorded), whose tensor w has another shape", None, {"base": "chain_step0.safetensors"})
    yield ("base_chunk_checksum", idx(lambda f: _entry(f, "frozen")["chunks"][0].update(
               checksum=_entry(f, "frozen")["chunks"][0]["checksum"] ^ 1)),
           "BaseMismatchError", ["wrong base model", sha(base_orig)], {},
           "the checksum of the BASE chunk of frozen changed: the right base's bytes do not hash to it, "
           "which a BASE chunk reports as a wrong base", None, B)
    yield ("delta_base_check", pay("w", lambda p: _set(p, 0, "B", p[0] ^ 1)),
           "BaseMismatchError", ["wrong base model", sha(base_orig)], {},
           "the base check (u64 xxh3 of the base chunk) of w's DELTA payload changed", None, B)
    yield ("xor_base_check", pay("i32", lambda p: _set(p, 0, "B", p[0] ^ 1)),
           "BaseMismatchError", ["wrong base model", sha(base_orig)], {},
           "the base check of i32's XOR payload changed", None, B)
    ta, tb = (_with_base_file(other, lambda path, o=orig, loc=loc: encode(o, {"chunk_size": 2048, "level": 3}, path,
                                                                          {"path": loc}))
              for orig, other, loc in ((base_orig, ft_orig, "chain_loop_b.zipw"),
                                       (ft_orig, base_orig, "chain_loop_a.zipw")))
    for name, data, other in (("chain_loop_a", ta, "chain_loop_b"), ("chain_loop_b", tb, "chain_loop_a")):
        yield (name, data, "BaseMismatchError", ["the chain of bases loops"], {},
               f"a delta coded against the original of {other}.zipw and recording that file as its base, which "
               f"records this one: resolving the bases comes back to this file", None, {"ref_decoder": None})

    # -- version 2 structures out of place
    yield ("v2_codec_in_v1", _set_version(zc, 1), "CorruptDataError", ["codec 7 does not exist in format version 1"],
           {}, "the COPY file (version 2, no base) with a version-1 header", None)
    yield ("has_base_in_v1", _set_version(z, 1), "CorruptDataError", ["reserved bytes in the index head"], {},
           "the delta file with a version-1 header: has_base = 1 is a reserved byte there", None)
    yield ("has_base_2", idx(lambda f: f.update(has_base=2)), "CorruptDataError", ["base flag is 2"], {},
           "the index head's has_base byte 2 (the base record still follows)", None)
    yield ("base_codec_without_transform", idx(lambda f: _entry(f, "w").update(transform=0)),
           "CorruptDataError", ["codec 4 reads a base, but its entry is not coded against one"], {},
           "w's entry with transform 0, its chunk still DELTA", None, B)
    yield ("transform_without_base_record", _edit_index(zc, lambda f: _entry(f, "embed").update(transform=1)),
           "CorruptDataError", ["coded against a base model, but the file records none"], {},
           "a version-2 file without a base record, one entry with transform 1", None)
    yield ("transform_2", idx(lambda f: _entry(f, "w").update(transform=2)), "UnsupportedFeatureError",
           ["transform 2"], {}, "an entry with transform 2 (reserved)", None, B)
    yield ("location_too_long", idx(lambda f: f["base"].update(location_length=65537)), "LimitExceededError",
           ["base location of 65537 bytes exceeds 65536"], {},
           "a base location length of 65,537 (refused before it is read: the file holds fewer bytes)", None)
    for name, loc, what in (
            ("location_not_object", b'["../error_delta.base.safetensors"]', "a JSON list"),
            ("location_not_string", b'{"path":"../error_delta.base.safetensors","revision":7}', "a number value"),
            ("location_not_utf8", b'{"path":"../error_delta.base.safetensors","x":"\xff"}', "invalid UTF-8"),
            ("location_duplicate_key", b'{"path":"../x.safetensors","path":"../error_delta.base.safetensors"}',
             "the key path twice (which one is meant?)")):
        yield (name, idx(lambda f, loc=loc: f["base"].update(location=loc)), "CorruptDataError",
               ["the base location is not a JSON object of strings"], {}, f"a base location that is {what}", None)

    # -- COPY (errors/…: the COPY file's entries are embed 0, norm 1, small 2, lm_head 3,
    # lm_head2 4, out.b 5; lm_head and lm_head2 copy embed's two chunks)
    def copy_to(entry: str, chunk: int, payload: bytes):
        return _edit_index(zc, lambda f: _entry(f, entry)["chunks"][chunk].update(payload=payload))

    u32p = lambda k: struct.pack("<I", k)  # noqa: E731
    yield ("copy_later_entry", copy_to("lm_head", 0, u32p(4)), "CorruptDataError",
           ["copy of entry 4, which is not an earlier entry"], {}, "a COPY of a later entry", None)
    yield ("copy_itself", copy_to("lm_head", 0, u32p(3)), "CorruptDataError",
           ["copy of entry 3, which is not an earlier entry"], {}, "a COPY of its own entry", None)
    yield ("copy_of_copy", copy_to("lm_head2", 0, u32p(3)), "CorruptDataError", ["itself a copy"], {},
           "a COPY of a chunk that is itself a COPY", None)
    yield ("copy_other_unit", copy_to("lm_head", 0, u32p(1)), "CorruptDataError",
           ["differs in size, unit or chunking"], {},
           "a BF16 chunk copying the same span of an F32 entry (another split unit)", None)
    yield ("copy_other_span", copy_to("lm_head", 1, u32p(2)), "CorruptDataError",
           ["differs in size, unit or chunking"], {},
           "chunk 1 of lm_head copying entry small, which has one chunk", None)
    yield ("copy_payload_length", copy_to("lm_head", 0, u32p(0) + b"\x00"), "CorruptDataError",
           ["copy payload is 5 bytes"], {}, "a COPY payload of 5 bytes", None)

    # -- BASE, DELTA and XOR payloads
    yield ("base_payload_not_empty", pay("frozen", lambda p: p + b"\x00"), "CorruptDataError", ["must be empty"],
           {}, "a BASE chunk with a 1-byte payload", None, B)
    ref = ("w", 0)
    for name, fn, error, phrase, what in (
            ("delta_op", lambda d: _set(d, 1, "B", 2), "CorruptDataError", "unknown delta transform 2", "op 2"),
            ("delta_contexts_0", lambda d: _set(d, 6, "B", 0), "CorruptDataError", "invalid context count 0", "C = 0"),
            ("delta_contexts_17", lambda d: _set(d, 6, "B", 17), "CorruptDataError", "invalid context count 17",
             "C = 17"),
            ("delta_precision_10", lambda d: _set(d, 8, "B", 10), "CorruptDataError",
             "invalid probability precision 10", "P = 10"),
            ("delta_precision_15", lambda d: _set(d, 8, "B", 15), "CorruptDataError",
             "invalid probability precision 15", "P = 15"),
            ("delta_kind", lambda d: _set(d, 0, "B", 1), "CorruptDataError", "kind mismatch", "kind 1 in a BF16 chunk"),
            ("delta_count", lambda d: _set(d, 2, "<I", 321), "CorruptDataError", "size mismatch",
             "n = 321 for a chunk of 320 values"),
            ("delta_truncated_header", lambda d: d[:10], "TruncatedDataError", "need 13 bytes of header",
             "the delta payload cut to 10 bytes"),
            ("delta_truncated_tables", lambda d: d[: 13 + delta_layout(bytes(d))["tlen"] // 2], "TruncatedDataError",
             "tables need", "the delta payload cut inside its tables"),
            ("delta_truncated_extra", lambda d: d[: _inside_extra(d)], "TruncatedDataError",
             "raw bits need", "the delta payload cut inside its extra bits"),
            ("delta_trailing", lambda d: d + b"\x00\x00", "CorruptDataError", "trailing bytes",
             "two bytes after the delta payload's rANS stream")):
        yield (name, dl(fn), error, [phrase], {}, f"w's DELTA payload: {what}", ref, B)
    yield ("delta_truncated_stream", pay("w16", _delta_edit(_last_word_cut)), "TruncatedDataError",
           ["rANS stream ends early"], {}, "w16's DELTA payload without its last rANS word", ("w16", 0), B)
    yield ("delta_elo", pay("w16", _delta_edit(lambda d: _set(d, 7, "B", 32))), "CorruptDataError",
           ["invalid first context exponent 32"], {}, "an F16 DELTA payload with elo = 32 (F16 exponents are 0..31)",
           ("w16", 0), B)
    yield ("delta_token_beyond_t", _hostile_token(z, "w", 40), "CorruptDataError", ["token 40 of 40"], {},
           "a BF16 DELTA payload (pure-Python encoder) whose table also holds token 40, which no value uses: "
           "16-bit values have tokens 0..39", ref, B)
    yield ("delta_token_beyond_t_f32", _hostile_token(z, "w32", 72), "CorruptDataError", ["token 72 of 72"], {},
           "an F32 DELTA payload whose table also holds token 72 (32-bit values have 0..71)", ("w32", 0), B)
    yield ("delta_table_gamma_long", pay("w", _delta_edit(_gamma_table)), "CorruptDataError",
           ["frequency table invalid"], {},
           "w's DELTA payload whose first table codes its first symbol gap with 25 zero bits before the 1 "
           "(spec/CODERS.md 1.1: more than 24 is corrupt), the whole code inside the table's bytes", ref,
           {**B, "xfail": "csrc/rans.c zw_br gamma reader: more than 24 zero bits sets the overrun flag, so "
                          "zw_table_read_list reports ZW_ETRUNC (TruncatedDataError) for a code that is "
                          "corrupt, not cut short"})
    yield ("delta_extra_short", pay("w", _extra_bits(lambda x: x[:-1])), "TruncatedDataError",
           ["raw bits run out"], {}, "w's extra bits without their last byte (tables and rANS stream intact)", ref, B)
    yield ("delta_extra_long", pay("w", _extra_bits(lambda x: x + b"\x00")), "CorruptDataError",
           ["non-zero padding"], {}, "a zero byte after w's extra bits: not all bytes read", ref, B)
    yield ("delta_extra_padding", pay("w", _extra_bits(lambda x: _set(x, len(x) - 1, "B", x[-1] | 0x80))),
           "CorruptDataError", ["non-zero padding"], {}, "the last padding bit of w's extra bits set", ref, B)
    yield ("delta_no_check", pay("w", lambda p: p[:5]), "TruncatedDataError", ["before its base checksum"], {},
           "a DELTA payload of 5 bytes: it ends inside its u64 base check", None, B)
    yield ("delta_on_i32", idx(lambda f: _entry(f, "i32")["chunks"][0].update(
               codec=DELTA, payload=_entry(f, "i32")["chunks"][0]["payload"][:8]
               + _kernels_delta(_entry(f, "i32")["length"]))),
           "CorruptDataError", ["delta codec used for dtype I32"], {},
           "a DELTA chunk in an I32 entry (its payload a valid BF16 delta payload of the same bytes)", None, B)
    yield ("xor_inner_delta", pay("i32", lambda p: _set(p, 8, "B", DELTA)), "CorruptDataError",
           ["is itself against a base"], {}, "an XOR payload whose inner codec is DELTA", None, B)
    yield ("xor_inner_unknown", pay("i32", lambda p: _set(p, 8, "B", 9)), "UnsupportedFeatureError",
           ["unknown chunk codec 9"], {}, "an XOR payload whose inner codec is 9 (reserved)", None, B)
    yield ("sparse_inner_xor", pay("i32", _sparse_inner(XOR)), "CorruptDataError", ["sparse"], {},
           "i32's XOR payload (inner codec SPARSE) whose SPARSE values name the inner codec XOR: SPARSE takes "
           "STORE, PLANES or FLOAT (spec/FORMAT.md 7.4: 3-7 are corrupt)", None,
           {**B, "xfail": "zipweights/codec/chain.py _decode_sparse hands any inner id but SPARSE to "
                          "chain.decode_chunk, whose table lacks 4-7: UnsupportedFeatureError ('unknown chunk "
                          "codec 5') for a codec that exists but is not allowed there"})
    yield ("xor_no_inner", pay("i32", lambda p: p[:8]), "TruncatedDataError", ["before its inner codec"], {},
           "an XOR payload of its base check alone", None, B)


def _kernels_delta(nbytes: int) -> bytes:
    """A valid delta payload of nbytes (BF16 kind) against zeros: for a chunk whose dtype
    the delta payload does not take."""
    from zipweights import _kernels

    return _kernels.delta_encode(bytes(range(256)) * (nbytes // 256) + bytes(nbytes % 256), bytes(nbytes), 0)


def manifest_json(manifest: dict) -> str:
    """Indented JSON with each list of strings or numbers on one line (the exercised
    modes of a vector: a line each would make the manifest the folder's largest file)."""
    text = json.dumps(manifest, indent=2) + "\n"
    return re.sub(r"\[\n\s+([^\[\]{}]*?)\n\s+\]", lambda m: "[" + re.sub(r",\n\s+", ", ", m.group(1)) + "]", text)


def _file_entry(name: str) -> dict:
    with open(os.path.join(HERE, name), "rb") as f:
        data = f.read()
    return {"file": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def main() -> int:
    import zipweights

    only = set(sys.argv[1:])
    manifest = {"generator": "spec/vectors/make_vectors.py", "zipweights_version": zipweights.__version__,
                "format_version": 2, "vectors": [], "bases": [], "errors": []}
    kept = {}
    if only:
        with open(os.path.join(HERE, "manifest.json")) as f:
            old = json.load(f)
        kept = {v["name"]: v for v in old["vectors"] + old.get("errors", [])}
    bases = set()
    for v in vectors():
        if "base" in v:
            bname, bdata = v["base"]
            if bdata is not None:  # a base original of its own (else another vector's .zipw)
                bases.add(bname)
                if not only or v["name"] in only:
                    with open(os.path.join(HERE, bname), "wb") as f:
                        f.write(bdata)
        if only and v["name"] not in only:
            if v["name"] in kept:  # the files stay; the fields read from them are refreshed
                entry = kept[v["name"]]
                with open(os.path.join(HERE, entry["zipw"]), "rb") as f:
                    entry["exercises"] = exercised(f.read())
                manifest["vectors"].append(entry)
            continue
        fname = v["name"] + v.get("suffix", ".safetensors")
        zipw = make_golden(v)
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(v["original"])
        with open(os.path.join(HERE, fname + ".zipw"), "wb") as f:
            f.write(zipw)
        entry = {
            "name": v["name"],
            "original": fname,
            "original_size": len(v["original"]),
            "original_sha256": hashlib.sha256(v["original"]).hexdigest(),
            "zipw": fname + ".zipw",
            "zipw_size": len(zipw),
            "zipw_sha256": hashlib.sha256(zipw).hexdigest(),
            "settings": v["settings"],
            "reencode_exact": reproducible(zipw) and "patch" not in v,
            "exercises": exercised(zipw),
        }
        if "base" in v:
            entry["base"] = v["base"][0]
        if "hand_built" in v:
            entry["hand_built"] = v["hand_built"]
        manifest["vectors"].append(entry)
    os.makedirs(ERRORS, exist_ok=True)
    with open(os.path.join(HERE, ERROR_BASE), "wb") as f:  # deterministic: rewriting it changes nothing
        f.write(error_delta_pair()[0])
    for name, data, error, message, options, what, ref, *extra in errors():
        if only and name not in only:
            if name in kept:
                manifest["errors"].append(kept[name])
            continue
        with open(os.path.join(ERRORS, name + ".zipw"), "wb") as f:
            f.write(data)
        entry = {
            "name": name, "zipw": f"errors/{name}.zipw", "zipw_size": len(data),
            "zipw_sha256": hashlib.sha256(data).hexdigest(), "error": error, "message": message,
            "options": options, "what": what, "ref_decoder_rejects": list(ref) if ref else None,
        }
        entry.update(extra[0] if extra else {})
        manifest["errors"].append(entry)
    for ev in manifest["errors"]:  # error vectors may name a base of their own
        if ev.get("base") and not ev["base"].endswith(".zipw"):
            bases.add(ev["base"])
    bases -= {v["original"] for v in manifest["vectors"]}  # a vector's original, listed with it
    manifest["bases"] = [_file_entry(b) for b in sorted(bases)]
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        f.write(manifest_json(manifest))
    for v in manifest["vectors"]:
        print(f"{v['zipw']}: {v['original_size']} -> {v['zipw_size']} bytes, reencode_exact={v['reencode_exact']}")
    for v in manifest["errors"]:
        print(f"{v['zipw']}: {v['zipw_size']} bytes -> {v['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
