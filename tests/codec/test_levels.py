"""Compression levels (zipweights/codec/chain.py, _LEVELS): from the default up each
level tries what the one below it tries and keeps the smallest, so no level is larger
than the one below it on any chunk; byte planes are coded only where the sampled probe
(chain.planes_estimate) says they may beat the float payload; levels are deterministic.
Real weights are the MiniLM fp32 of the conftest fixture (its word embeddings hold the
chunks where planes win); sizes, never times, are asserted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import zipweights
from zipweights import _kernels, dtypes
from zipweights.codec import chain

F32, BF16, F16 = (dtypes.BY_NAME[n] for n in ("F32", "BF16", "F16"))
CH = 1 << 20  # the writer's default chunk size
UPPER = range(chain.DEFAULT_LEVEL, chain.MAX_LEVEL + 1)


def _decode(codec, payload, dt, n) -> bytes:
    out = bytearray(n)
    chain.decode_chunk(codec, payload, dt, memoryview(out))
    return bytes(out)


@pytest.fixture(scope="module")
def slices(minilm_fp32) -> dict[str, tuple[bytes, dtypes.DType]]:
    """Chunk-sized slices of the real weights, as the writer hands them to the codec:
    where planes win (word embeddings chunk 1, 7 % smaller as planes; the position
    embeddings), where they lose (word embeddings chunk 3; a dense layer in fp32, bf16
    and fp16), a 50 %-pruned bf16 layer (the sparse codec, its bitmap and values), and
    two where the wider float search alone would be larger."""
    import torch
    from safetensors import safe_open

    with safe_open(minilm_fp32, "pt") as f:
        emb = f.get_tensor("embeddings.word_embeddings.weight").contiguous()
        pos = f.get_tensor("embeddings.position_embeddings.weight").contiguous()
        dense = f.get_tensor("encoder.layer.0.intermediate.dense.weight").contiguous()
        value = f.get_tensor("encoder.layer.0.attention.self.value.weight").contiguous()

    def raw(t) -> bytes:
        return t.contiguous().view(torch.uint8).numpy().tobytes()

    e = raw(emb)
    d16 = dense.to(torch.bfloat16)
    pruned = d16.clone()
    pruned[dense.abs() < dense.abs().median()] = 0
    return {
        "emb-f32-1": (e[CH : 2 * CH], F32),
        "emb-f32-3": (e[3 * CH : 4 * CH], F32),
        "pos-f32": (raw(pos)[:CH], F32),
        "dense-f32": (raw(dense)[:CH], F32),
        "dense-bf16": (raw(d16)[:CH], BF16),
        "dense-f16": (raw(dense.to(torch.float16))[:CH], F16),
        "pruned50-bf16": (raw(pruned)[:CH], BF16),
        # two where search row 5 comes out larger than row 1 (by 30 and 16 bytes): the
        # levels above the default that search both keep row 1's
        "emb-bf16-0": (raw(emb.to(torch.bfloat16))[:CH], BF16),
        "value-f16": (raw(value.to(torch.float16))[:CH], F16),
    }


def test_each_level_tries_what_the_one_below_it_tries():
    # the invariants the nesting rests on (chain.py, above _LEVELS): a change that breaks
    # one of them (a level with a smaller zstd set, a lower threshold, another first row)
    # makes a level larger than the one below it somewhere
    for a, b in zip(UPPER, UPPER[1:]):
        lo, hi = chain.Level.of(a), chain.Level.of(b)
        assert hi.float_rows[0] == lo.float_rows[0], (a, b)
        assert set(lo.float_rows) <= set(hi.float_rows), (a, b)
        assert set(lo.stream_zstd) <= set(hi.stream_zstd), (a, b)
        assert set(lo.planes_zstd) <= set(hi.planes_zstd), (a, b)
        assert lo.probe is not None and hi.probe >= lo.probe, (a, b)
        assert hi.planes >= lo.planes and hi.dense_sparse >= lo.dense_sparse, (a, b)


@pytest.mark.parametrize("name", ["emb-f32-1", "emb-f32-3", "pos-f32", "dense-f32", "dense-bf16",
                                  "dense-f16", "pruned50-bf16", "emb-bf16-0", "value-f16"])
def test_no_level_is_larger_than_the_one_below_it_on_real_chunks(slices, name):
    data, dt = slices[name]
    sizes = {}
    for lv in range(chain.MIN_LEVEL, chain.MAX_LEVEL + 1):
        codec, payload = chain.encode_chunk(data, dt, chain.Level.of(lv))
        assert _decode(codec, payload, dt, len(data)) == data
        sizes[lv] = len(payload)
    # from the default up by construction; 1 -> 2 -> 3 as measured (different search
    # rows, not nested by construction), on these chunks as on every corpus file
    for lv in range(chain.MIN_LEVEL + 1, chain.MAX_LEVEL + 1):
        assert sizes[lv] <= sizes[lv - 1], (name, sizes)


def test_the_default_level_codes_planes_where_they_win_on_real_weights(slices):
    # MiniLM fp32's word-embedding chunk 1 is 7 % smaller as byte planes: the default
    # level's probe finds it, where the float payload alone (no probe) is what it was
    data, dt = slices["emb-f32-1"]
    level = chain.Level.of(chain.DEFAULT_LEVEL)
    codec, payload = chain.encode_chunk(data, dt, level)
    assert codec == chain.PLANES
    float_only = _kernels.float_encode(data, 2, level.float_search)
    assert len(payload) < 0.95 * len(float_only)
    assert chain.encode_chunk(data, dt, dataclasses.replace(level, probe=None)) == (chain.FLOAT, float_only)


@pytest.mark.parametrize("name", ["emb-f32-3", "dense-f32", "dense-bf16", "dense-f16"])
def test_where_the_probe_says_no_the_default_level_payload_is_the_float_payload(slices, name):
    # the default level's output on chunks where planes lose is byte for byte what it
    # was before the probe: the float coder's payload of search row 1
    data, dt = slices[name]
    level = chain.Level.of(chain.DEFAULT_LEVEL)
    ref = _kernels.float_encode(data, chain.float_kind(dt), level.float_search)
    assert chain.planes_estimate(data, dt, len(ref)) > level.probe
    assert chain.encode_chunk(data, dt, level) == (chain.FLOAT, ref)


def _rows_f32(rng, n_rows: int, distinct: int | None) -> np.ndarray:
    """n_rows rows of 384 fp32 weights: independent, or repeating `distinct` rows (as an
    embedding's rows of unused tokens can): repeats that byte planes' zstd finds and the
    float coder, which codes each value's low mantissa bits raw, cannot."""
    if distinct is None:
        return (rng.standard_normal((n_rows, 384)) * 0.05).astype(np.float32)
    base = (rng.standard_normal((distinct, 384)) * 0.05).astype(np.float32)
    return base[rng.integers(0, distinct, n_rows)]


def test_probe_fires_on_a_crafted_chunk_where_planes_win_even_away_from_its_head():
    # the first half of the chunk is independent values, the second repeats 8 rows: a
    # sample of the chunk's head alone would see no repeats; the probe's stripes do
    rng = np.random.default_rng(7)
    data = np.concatenate([_rows_f32(rng, 341, None), _rows_f32(rng, 341, 8)]).tobytes()
    level = chain.Level.of(chain.DEFAULT_LEVEL)
    ref = _kernels.float_encode(data, 2, level.float_search)
    head = data[: len(data) // 2]
    assert chain.planes_estimate(head, F32, len(_kernels.float_encode(head, 2, 1))) > chain.Level.of(9).probe
    assert chain.planes_estimate(data, F32, len(ref)) < 0.8
    codec, payload = chain.encode_chunk(data, F32, level)
    assert codec == chain.PLANES and len(payload) < 0.8 * len(ref)
    assert _decode(codec, payload, F32, len(data)) == data


@pytest.mark.parametrize("dt", [F32, BF16], ids=lambda d: d.name)
def test_probe_stays_quiet_on_a_crafted_chunk_where_planes_lose(dt):
    rng = np.random.default_rng(8)
    v = _rows_f32(rng, 682, None)
    data = v.tobytes() if dt is F32 else (v.view(np.uint32) >> 16).astype("<u2").tobytes()
    top = chain.Level.of(chain.MAX_LEVEL)
    ref = _kernels.float_encode(data, chain.float_kind(dt), top.float_search)
    # the low planes (the bits the float coder stores raw) do not compress: the probe
    # stops at its first stage
    assert chain.planes_estimate(data, dt, len(ref)) == float("inf")
    for lv in UPPER:
        codec, _ = chain.encode_chunk(data, dt, chain.Level.of(lv))
        assert codec == chain.FLOAT, lv


def test_levels_are_deterministic(slices, tmp_path):
    # the same chunk coded twice gives the same bytes at every level, and a whole file at
    # the top level is the same at 1 and 2 threads
    for name in ("emb-f32-1", "pruned50-bf16"):
        data, dt = slices[name]
        for lv in range(chain.MIN_LEVEL, chain.MAX_LEVEL + 1):
            level = chain.Level.of(lv)
            assert chain.encode_chunk(data, dt, level) == chain.encode_chunk(bytes(data), dt, level)
    from safetensors.numpy import save_file

    tensors = {k: np.frombuffer(slices[k][0], np.float32) for k in ("emb-f32-1", "pos-f32", "dense-f32")}
    src = str(tmp_path / "m.safetensors")
    save_file(tensors, src)
    outs = []
    for threads in (1, 2):
        dst = str(tmp_path / f"m{threads}.zipw")
        zipweights.compress_file(src, dst, level=chain.MAX_LEVEL, threads=threads, chunk_size=1 << 18)
        outs.append(open(dst, "rb").read())
    assert outs[0] == outs[1]
