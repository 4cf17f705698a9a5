"""Golden vectors (spec/vectors): every .zipw decodes to exactly its original, and
where the manifest says so (STORE / RAW-plane chunks only) re-encoding reproduces the
.zipw byte for byte; the modes each vector claims to exercise are re-read from its
bytes, and together the vectors exercise every codec mode. Error vectors
(spec/vectors/errors) each raise exactly their named error. Delta files (format version 2)
decode with the base the manifest names, given or found where the file records it. Every
vector is also decoded, and every error vector refused with the same error, by the
pure-Python decoder written from the spec (tests/kernels/ref_decoder.py). See
spec/vectors/README.md."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import struct
import sys

import pytest

import zipweights
from zipweights import errors as zerrors

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "spec", "vectors")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kernels"))
import ref_decoder  # noqa: E402  (the pure-Python decoder written from spec/CODERS.md)


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_vectors", os.path.join(VECTORS, "make_vectors.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKER = _load_maker()
with open(os.path.join(VECTORS, "manifest.json")) as _f:
    MANIFEST = json.load(_f)
ENTRIES = MANIFEST["vectors"]
ERROR_ENTRIES = MANIFEST["errors"]
BASES = MANIFEST["bases"]
BY_ZIPW = {v["zipw"]: v for v in ENTRIES}

FLOAT_DTYPES = {"BF16": (9, 12), "F16": (6, 12), "F32": (9, 12), "C64": (9, 12)}  # B ranges, spec/CODERS.md 3
ALL_DTYPES = ["OPAQUE", "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16", "F32",
              "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "C64", "F4", "F6_E2M3", "F6_E3M2"]  # spec/FORMAT.md 6


def _read(name) -> bytes:
    with open(os.path.join(VECTORS, name), "rb") as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def _made_originals() -> dict:
    return {m["name"]: m["original"] for m in MAKER.vectors()}


def _options(entry) -> dict:
    """Reader options of a vector or error vector: the manifest's, and base= the file it
    names (a path in spec/vectors)."""
    opts = dict(entry.get("options", {}))
    if entry.get("base"):
        opts["base"] = os.path.join(VECTORS, entry["base"])
    return opts


def _base_original(name: str) -> bytes:
    """The original file of the base named `name`: a safetensors file as it is, a .zipw
    (a chain) as the reference decoder restores it, with its own base."""
    if not name.endswith(".zipw"):
        return _read(name)
    return _ref_restore(BY_ZIPW[name])


@functools.lru_cache(maxsize=None)
def _ref_restore_cached(zipw: str) -> bytes:
    v = BY_ZIPW[zipw]
    return ref_decoder.decode_file(_read(v["zipw"]), _base_original(v["base"]) if v.get("base") else None)


def _ref_restore(v) -> bytes:
    return _ref_restore_cached(v["zipw"])


V2_VECTORS = ["delta_bf16_finetune", "delta_f16_f32_c64", "delta_op_xor", "delta_xor_codec", "copy_tied",
              "chain_step1", "chain_step2", "delta_handmade"]


def test_manifest_lists_the_expected_vectors():
    assert [v["name"] for v in ENTRIES] == [
        "bf16_specials", "f32_basic", "mixed_int_bool_f8", "raw_bf16_hint", "bf16_sign_runs",
        "planes_streams", "sparse_inner", "float_level3", "float_level6", "mixed_dtypes_coded",
        "handmade_stored_modes", "bf16_handmade_full_table", *V2_VECTORS,
    ]
    assert any(v["reencode_exact"] for v in ENTRIES) and not all(v["reencode_exact"] for v in ENTRIES)
    for v in ENTRIES:
        assert 100 <= v["zipw_size"] <= 128 << 10
    # every file here is a vector, a base, an error vector or one of the four below
    listed = {"README.md", "make_vectors.py", "manifest.json"}
    listed |= {v[k] for v in ENTRIES for k in ("original", "zipw")} | {b["file"] for b in BASES}
    listed |= {ev["zipw"] for ev in ERROR_ENTRIES}
    on_disk = {os.path.relpath(os.path.join(d, f), VECTORS) for d, _, fs in os.walk(VECTORS) for f in fs
               if "__pycache__" not in d}
    assert on_disk == listed
    # small enough to keep in the repository: every file of spec/vectors together
    total = sum(os.path.getsize(os.path.join(VECTORS, f)) for f in on_disk)
    assert total < 768 << 10


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_manifest_hashes(v):
    orig, z = _read(v["original"]), _read(v["zipw"])
    assert (len(orig), hashlib.sha256(orig).hexdigest()) == (v["original_size"], v["original_sha256"])
    assert (len(z), hashlib.sha256(z).hexdigest()) == (v["zipw_size"], v["zipw_sha256"])


@pytest.mark.parametrize("b", BASES, ids=lambda b: b["file"])
def test_manifest_hashes_of_the_bases(b):
    data = _read(b["file"])
    assert (len(data), hashlib.sha256(data).hexdigest()) == (b["size"], b["sha256"])


@pytest.mark.parametrize("v", [v for v in ENTRIES if v.get("base")], ids=lambda v: v["name"])
def test_delta_vector_records_its_base(v):
    # the record pins the base the manifest names (a .zipw base: the original it
    # restores to) and says where it lies: beside the vector, under that name
    rec = MAKER.parse_zipw(_read(v["zipw"]))["base"]
    base = _read(v["base"])
    if v["base"].endswith(".zipw"):
        assert rec["sha256"].hex() == BY_ZIPW[v["base"]]["original_sha256"]
        assert rec["size"] == BY_ZIPW[v["base"]]["original_size"]
    else:
        assert (rec["sha256"], rec["size"]) == (hashlib.sha256(base).digest(), len(base))
    assert json.loads(rec["location"]) == {"path": v["base"]}


def _decodes_exactly(v, path, options, tmp_path, out_name):
    orig = _read(v["original"])
    with zipweights.ZipwFile(path, **options) as zf:
        assert zf.original_sha256 == v["original_sha256"]
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=2)
        assert bytes(out) == orig
        zf.verify(threads=1)
        for e in zf.entries:  # each entry on its own too (the per-tensor path)
            one = bytearray(e.length)
            zf.read_into(e, one, threads=1)
            assert bytes(one) == orig[e.offset : e.offset + e.length]
    dst = zipweights.decompress_file(path, tmp_path / out_name, **options)
    assert hashlib.sha256(open(dst, "rb").read()).hexdigest() == v["original_sha256"]


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_vector_decodes_exactly(v, tmp_path):
    path = os.path.join(VECTORS, v["zipw"])
    _decodes_exactly(v, path, _options(v), tmp_path, v["original"])
    if v.get("base"):  # and with the base found where the file records it
        _decodes_exactly(v, path, {}, tmp_path, v["original"] + ".found")


@pytest.mark.parametrize("v", [v for v in ENTRIES if v.get("base")], ids=lambda v: v["name"])
def test_delta_vector_decodes_with_its_base_in_memory(v):
    # a base given as arrays (no file: its chunks' own checks are what vouch for it)
    import ml_dtypes
    import numpy as np

    types = {"BF16": ml_dtypes.bfloat16, "F16": np.float16, "F32": np.float32, "F64": np.float64,
             "I32": np.int32, "I16": np.int16, "C64": np.complex64, "F8_E4M3": ml_dtypes.float8_e4m3fn}
    base = {name: np.frombuffer(raw, types[dt]).reshape(shape)
            for name, (dt, shape, raw) in ref_decoder.safetensors_tensors(_base_original(v["base"])).items()}
    orig = _read(v["original"])
    with zipweights.ZipwFile(os.path.join(VECTORS, v["zipw"]), base=base) as zf:
        for e in zf.entries:
            assert bytes(zf.read_bytes(e.name, threads=1)) == orig[e.offset : e.offset + e.length]


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_reference_decoder_restores_the_vector(v):
    # the whole file, by the decoder written from spec/FORMAT.md and spec/CODERS.md
    # alone: every codec, DELTA/XOR/BASE against the base, COPY, chains through the
    # reference decoder's own restore of the base .zipw
    assert _ref_restore(v) == _read(v["original"])


def test_sign_runs_vector_uses_sign_contexts():
    # the vector exists to pin float payload mode 2 (contexts split by sign)
    from zipweights.codec import chain

    z = _read("bf16_sign_runs.safetensors.zipw")
    with zipweights.ZipwFile(z) as zf:
        (row,) = zf.tensor("conv.weight").chunks
    assert int(row["codec"]) == chain.FLOAT
    assert z[int(row["offset"]) + 1] == 2


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_reencode_flag_is_honest(v):
    assert v["reencode_exact"] == (MAKER.reproducible(_read(v["zipw"])) and "hand_built" not in v)


@pytest.mark.parametrize("v", [v for v in ENTRIES if v["reencode_exact"]], ids=lambda v: v["name"])
@pytest.mark.parametrize("threads", [1, 2])
def test_reencode_is_byte_exact(v, threads):
    from zipweights import writer

    orig = _read(v["original"])
    s = v["settings"]
    source = (writer.source_from_bytes(orig, s["dtype_hint"]) if s.get("dtype_hint")
              else writer.source_from_safetensors(orig))
    out = io.BytesIO()
    writer.write(source, out, threads=threads, level=s["level"], chunk_size=s["chunk_size"])
    assert out.getvalue() == _read(v["zipw"])


@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_generator_still_makes_the_same_originals(v):
    assert _made_originals()[v["name"]] == _read(v["original"])


def test_generator_still_makes_the_same_bases():
    made = {m["base"][0]: m["base"][1] for m in MAKER.vectors() if m.get("base") and m["base"][1] is not None}
    made[MAKER.ERROR_BASE] = MAKER.error_delta_pair()[0]
    assert set(made) == {b["file"] for b in BASES}
    for name, data in made.items():
        assert data == _read(name), name
    for base in BASES:  # and the safetensors package reads them
        from safetensors import safe_open

        with safe_open(os.path.join(VECTORS, base["file"]), "np") as f:
            assert list(f.keys())


@pytest.mark.parametrize("name", ["bf16_specials", "f32_basic", "planes_streams", "sparse_inner", "float_level3",
                                  "float_level6", "handmade_stored_modes", "bf16_handmade_full_table", *V2_VECTORS])
def test_originals_are_real_safetensors(name):
    # (the mixed vectors hold an unknown dtype name, which the safetensors package refuses)
    import torch
    from safetensors import safe_open

    v = next(v for v in ENTRIES if v["name"] == name)
    path = os.path.join(VECTORS, v["original"])
    with zipweights.ZipwFile(os.path.join(VECTORS, v["zipw"]), **_options(v)) as zf, safe_open(path, "pt") as f:
        assert set(f.keys()) == {e.name for e in zf.entries}
        for name in f.keys():
            t = f.get_tensor(name)
            assert t.contiguous().view(-1).view(torch.uint8).numpy().tobytes() == bytes(zf.read_bytes(name))


# -- the modes the vectors exercise ------------------------------------------------------
@pytest.mark.parametrize("v", ENTRIES, ids=lambda v: v["name"])
def test_exercised_modes_are_what_the_file_holds(v):
    # the manifest's claim, re-read from the .zipw's bytes: codec ids, stream coder ids,
    # ent and float payload mode bytes, and the B, C, P bytes of every float payload
    assert MAKER.exercised(_read(v["zipw"])) == v["exercises"]


def test_the_tag_reader_reads_the_index_as_zipweights_does():
    # the independent container reader of make_vectors.py agrees with zipweights on
    # every chunk's codec and payload of every vector (so the tags describe real chunks)
    for v in ENTRIES:
        z = _read(v["zipw"])
        f = MAKER.parse_zipw(z)
        with zipweights.ZipwFile(z) as zf:
            ours = [(e["name"].decode(), c["codec"], c["payload"]) for e in f["entries"] for c in e["chunks"]]
            theirs = [(e.name, int(r["codec"]), z[int(r["offset"]) : int(r["offset"]) + int(r["length"])])
                      for e in zf.entries for r in e.chunks]
        assert ours == theirs, v["name"]


def _required_tags() -> set[str]:
    req = {f"codec:{c}" for c in ("store", "planes", "float", "sparse", "delta", "xor", "base", "copy")}
    req |= {f"xor_inner:{c}" for c in ("store", "planes", "float", "sparse")}
    req |= {f"chunk:{dt}:xor" for dt in ("I32", "F64", "F8_E4M3")}  # what the delta payload does not take
    req |= {f"chunk:{dt}:delta" for dt in FLOAT_DTYPES}
    req |= {"base_record", "location:path", "transform:1", "transform1:alone", "no_base_tensor", "v2_without_base",
            "copy:partial", "delta:extra_bits"}
    req |= {f"stream:{c}" for c in ("raw", "zstd", "ent")}
    req |= {f"ent_mode:{m}" for m in (0, 1, 2)}
    req |= {f"sparse_inner:{c}" for c in ("store", "planes", "float")}
    for dt in FLOAT_DTYPES:
        req.add(f"float:{dt}:mode0")
        req.add(f"chunk:{dt}:float")
    return req


def test_vectors_exercise_every_mode():
    have = set().union(*(v["exercises"] for v in ENTRIES))
    missing = _required_tags() - have
    assert not missing
    assert any(t.startswith("bitmap:") for t in have)
    # every dtype is coded (not stored) somewhere
    for dt in ALL_DTYPES:
        assert have & {f"chunk:{dt}:{c}" for c in ("planes", "float", "sparse")}, dt
    # each float dtype: payload modes 1 and 2, every symbol width B of its kind, every
    # table precision P, one context and the most contexts (16), read from the B/C/P bytes
    pat = re.compile(r"float:(\w+):mode([12]):B(\d+):C(\d+):P(\d+)$")
    for dt, (bmin, bmax) in FLOAT_DTYPES.items():
        got = [tuple(int(x) for x in m.groups()[1:]) for m in map(pat.match, have) if m and m.group(1) == dt]
        assert {mode for mode, _, _, _ in got} == {1, 2}, dt
        assert {b for _, b, _, _ in got} == set(range(bmin, bmax + 1)), dt
        assert {p for _, _, _, p in got} == {11, 12, 13, 14}, dt
        assert {1, 16} <= {c for _, _, c, _ in got}, dt
    # each delta kind: both ops; the 16-bit kinds every P and 1 and 16 contexts (P <= 12
    # and P > 12 take different decode tables in the kernels), F32 its largest P
    pat = re.compile(r"delta:(\w+):op([01]):C(\d+):P(\d+)$")
    got = {}
    for m in filter(None, map(pat.match, have)):
        got.setdefault(m.group(1), set()).add(tuple(int(x) for x in m.groups()[1:]))
    assert set(got) == set(FLOAT_DTYPES)
    for dt in ("BF16", "F16", "F32"):
        assert {op for op, _, _ in got[dt]} == {0, 1}, dt
    for dt in ("BF16", "F16"):
        assert {p for _, _, p in got[dt]} == {11, 12, 13, 14}, dt
        assert {1, 16} <= {c for _, c, _ in got[dt]}, dt
    assert (0, 16, 14) in got["F32"]


def test_version_2_vectors_cover_the_base_cases():
    # a base that is itself a delta .zipw (a chain), a version-2 file without a base, and
    # a delta file whose tensors are coded against the base, alone and as BASE chunks
    by = {v["name"]: v for v in ENTRIES}
    assert by["chain_step2"]["base"] == by["chain_step1"]["zipw"] and by["chain_step1"].get("base")
    assert not by["copy_tied"].get("base") and "v2_without_base" in by["copy_tied"]["exercises"]
    for v in ENTRIES:
        assert struct.unpack_from("<H", _read(v["zipw"]), 8)[0] == (2 if v["name"] in V2_VECTORS else 1)
    assert {"codec:base", "no_base_tensor", "transform1:alone"} <= set(by["delta_bf16_finetune"]["exercises"])


def test_mixed_dtypes_vector_codes_every_chunk():
    v = next(v for v in ENTRIES if v["name"] == "mixed_dtypes_coded")
    f = MAKER.parse_zipw(_read(v["zipw"]))
    assert {MAKER.DTYPE_NAMES[e["dtype"]] for e in f["entries"]} == set(ALL_DTYPES)
    for e in f["entries"]:
        assert e["chunks"] and all(c["codec"] != MAKER.STORE for c in e["chunks"]), e["name"]


def _chunks(v):
    """(dtype name, codec, payload, original chunk bytes) of every chunk of a vector."""
    orig = _read(v["original"])
    for e in MAKER.parse_zipw(_read(v["zipw"]))["entries"]:
        for i, c in enumerate(e["chunks"]):
            a = e["offset"] + i * e["chunk_size"]
            yield MAKER.DTYPE_NAMES[e["dtype"]], c["codec"], c["payload"], orig[a : min(a + e["chunk_size"], e["offset"] + e["length"])]


@pytest.mark.parametrize("v", [v for v in ENTRIES if any(t.startswith(("float:", "stream:ent")) for t in v["exercises"])],
                         ids=lambda v: v["name"])
def test_reference_decoder_decodes_the_payloads(v):
    # every float payload and every ENT plane, decoded by the slow decoder written from
    # spec/CODERS.md alone: the spec (and the B/C/P bytes the tags were read from) is
    # what the fast kernels decode
    for dt, codec, payload, chunk in _chunks(v):
        if codec == MAKER.FLOAT:
            assert ref_decoder.float_decode(payload, MAKER.FLOAT_KIND[dt], len(chunk)) == chunk
        elif codec == MAKER.PLANES:
            unit = {"I32": 4, "F64": 8}.get(dt)
            for p, (coder, _, data) in enumerate(MAKER.streams(payload)):
                if coder == MAKER.ENT and unit == 4:  # no rotation: plane p is byte 3 - p
                    plane = bytes(chunk[3 - p :: 4])
                    assert ref_decoder.ent_decode(data, len(plane)) == plane


def test_full_table_vector_is_the_overflow_vector_but_for_p():
    # errors/float_table_overflow.zipw is this valid payload with P = 12 changed to 11
    good = MAKER.parse_zipw(_read("bf16_handmade_full_table.safetensors.zipw"))["entries"][0]["chunks"][0]
    bad = MAKER.parse_zipw(_read("errors/float_table_overflow.zipw"))["entries"][0]["chunks"][0]
    g, b = good["payload"], bad["payload"]
    assert (g[6], g[7], g[8], b[8]) == (12, 1, 12, 11)
    assert g[:8] + g[9:] == b[:8] + b[9:] and good["checksum"] == bad["checksum"]


# -- error vectors ------------------------------------------------------------------------
REQUIRED_ERRORS = {
    "float_table_overflow", "float_table_sum_overflow", "float_rans_state", "float_payload_truncated",
    "float_stream_truncated", "ent_stream_truncated", "file_truncated", "float_payload_trailing",
    "planes_trailing", "index_trailing", "zstd_bytes_after_frame", "bad_magic", "unknown_version",
    "index_checksum_mismatch", "trailer_hash_mismatch", "chunk_checksum_mismatch", "bomb_shared_payload",
    "limit_prefix_terabytes", "limit_max_output_size",
    # format version 2
    "wrong_base", "wrong_base_same_layout", "missing_base", "base_other_layout", "base_chunk_checksum",
    "delta_base_check", "xor_base_check", "chain_loop_a", "v2_codec_in_v1", "base_codec_without_transform",
    "transform_without_base_record", "has_base_2", "location_too_long", "location_not_object",
    "copy_later_entry", "copy_itself", "copy_of_copy", "copy_other_unit", "base_payload_not_empty", "delta_op",
    "delta_contexts_0", "delta_elo", "delta_precision_10", "delta_token_beyond_t", "delta_extra_short",
    "delta_extra_long", "delta_extra_padding", "delta_truncated_header", "delta_truncated_stream",
}


def _phrases(ev) -> list[str]:
    return ev["message"] if isinstance(ev["message"], list) else [ev["message"]]


def test_error_manifest():
    assert REQUIRED_ERRORS <= {ev["name"] for ev in ERROR_ENTRIES}
    on_disk = sorted(os.listdir(os.path.join(VECTORS, "errors")))
    assert on_disk == sorted(os.path.basename(ev["zipw"]) for ev in ERROR_ENTRIES)
    for ev in ERROR_ENTRIES:
        z = _read(ev["zipw"])
        assert (len(z), hashlib.sha256(z).hexdigest()) == (ev["zipw_size"], ev["zipw_sha256"])
        cls = getattr(zerrors, ev["error"])
        assert issubclass(cls, zerrors.ZipWeightsError) and all(_phrases(ev))
        if ev.get("base"):
            assert os.path.isfile(os.path.join(VECTORS, ev["base"]))
    # the message of a wrong base names both files' sha256s, a missing one where it looked
    by = {ev["name"]: ev for ev in ERROR_ENTRIES}
    for name in ("wrong_base", "wrong_base_same_layout"):
        assert sum(bool(re.fullmatch("[0-9a-f]{64}", m)) for m in _phrases(by[name])) == 2
    assert "errors/missing_base.safetensors" in _phrases(by["missing_base"])


def _read_everything(path, options):
    with zipweights.ZipwFile(path, **options) as zf:
        for e in zf.entries:
            if e.kind == 0:
                zf.read_bytes(e.name, threads=1)
            else:
                zf.read_into(e, bytearray(e.length), threads=1)
        zf.verify(threads=1)


def _verify_only(path, options):
    with zipweights.ZipwFile(path, **options) as zf:
        zf.verify(threads=2)


@pytest.mark.parametrize("ev", ERROR_ENTRIES, ids=lambda ev: ev["name"])
def test_error_vector_raises_its_error(ev, tmp_path, request):
    if ev.get("xfail"):  # a known bug of zipweights, named in the manifest until it is fixed
        request.applymarker(pytest.mark.xfail(reason=ev["xfail"], strict=True))
    path = os.path.join(VECTORS, ev["zipw"])
    cls = getattr(zerrors, ev["error"])
    # with the base the manifest names, and (where it names one) without it: the file
    # records that base's path, relative to errors/, and the base found there is refused
    # (or used) alike
    for options in [_options(ev)] + ([ev["options"]] if ev.get("base") else []):
        for run in (_read_everything, _verify_only):
            with pytest.raises(zerrors.ZipWeightsError) as info:
                run(path, options)
            assert type(info.value) is cls, (run.__name__, info.value)
            for phrase in _phrases(ev):
                assert phrase in str(info.value), (run.__name__, phrase)
        out = tmp_path / "out"
        with pytest.raises(cls):
            zipweights.decompress_file(path, out, check_sha256=True, **options)  # as zipw decompress --sha256
        assert os.listdir(tmp_path) == []  # a failed restore leaves nothing behind


# the reference decoder's class for each error of spec/FORMAT.md 1
REF_ERROR = {
    "CorruptDataError": "Corrupt", "TruncatedDataError": "Truncated", "ChecksumMismatchError": "ChecksumMismatch",
    "BadMagicError": "BadMagic", "UnsupportedVersionError": "Unsupported", "UnsupportedFeatureError": "Unsupported",
    "LimitExceededError": "LimitExceeded", "BaseMismatchError": "WrongBase", "BaseNotFoundError": "NoBase",
}


def _ref_expected(ev):
    """The reference decoder's error class for an error vector, or None where the error
    is not the file's alone: a limit the caller sets, or where a chain's bases are found."""
    if ev["options"]:
        return None
    name = ev["ref_decoder"] if "ref_decoder" in ev else REF_ERROR[ev["error"]]
    return None if name is None else getattr(ref_decoder, name)


@pytest.mark.parametrize("ev", ERROR_ENTRIES, ids=lambda ev: ev["name"])
def test_reference_decoder_refuses_the_file(ev):
    # the independent decoder finds the same error, by the spec's rules alone: the
    # vector breaks a rule of the spec, not only a check of zipweights
    cls = _ref_expected(ev)
    if cls is None:
        assert ev["name"] in ("limit_max_output_size", "chain_loop_a", "chain_loop_b")
        return
    base = _base_original(ev["base"]) if ev.get("base") else None
    with pytest.raises(Exception) as info:
        ref_decoder.decode_file(_read(ev["zipw"]), base)
    assert type(info.value) is cls, info.value


@pytest.mark.parametrize("ev", [ev for ev in ERROR_ENTRIES if ev["ref_decoder_rejects"]], ids=lambda ev: ev["name"])
def test_reference_decoder_rejects_the_payload(ev):
    # the payload breaks a rule of spec/CODERS.md, not only a check of the kernels
    name, i = ev["ref_decoder_rejects"]
    f = MAKER.parse_zipw(_read(ev["zipw"]))
    e = next(e for e in f["entries"] if e["name"] == name.encode())
    c = e["chunks"][i]
    assert c["codec"] in (MAKER.FLOAT, MAKER.DELTA)
    kind = MAKER.FLOAT_KIND[MAKER.DTYPE_NAMES[e["dtype"]]]
    a, b = i * e["chunk_size"], min((i + 1) * e["chunk_size"], e["length"])
    with pytest.raises(ref_decoder.Corrupt):
        if c["codec"] == MAKER.FLOAT:
            ref_decoder.float_decode(c["payload"], kind, b - a)
        else:
            base = ref_decoder.safetensors_tensors(_base_original(ev["base"]))[name][2]
            ref_decoder.delta_decode(c["payload"][8:], kind, base[a:b], b - a)


def test_error_vectors_are_edits_of_valid_payloads():
    # the table errors differ from a valid payload only where they mean to: with P put
    # back to 12 the two overflow payloads decode, checksum and all
    import xxhash

    from zipweights import dtypes
    from zipweights.codec import chain

    for name in ("float_table_overflow", "float_table_sum_overflow"):
        f = MAKER.parse_zipw(_read(f"errors/{name}.zipw"))
        c = f["entries"][0]["chunks"][0]
        fixed = bytearray(c["payload"])
        assert fixed[8] == 11
        fixed[8] = 12
        out = bytearray(f["entries"][0]["length"])
        chain.decode_chunk(chain.FLOAT, bytes(fixed), dtypes.BY_NAME["BF16"], memoryview(out))
        assert xxhash.xxh3_64_intdigest(bytes(out)) == c["checksum"]


def test_delta_header_errors_are_one_field_edits_of_a_valid_payload():
    # the DELTA payloads of these vectors differ from each other only in the field each
    # breaks: byte by byte, the majority of them is the valid payload, which decodes to
    # its chunk's checksum with the right base; each differs from it in its field alone
    import xxhash

    from zipweights import dtypes
    from zipweights.codec import delta

    fields = {"delta_op": {9}, "delta_contexts_0": {14}, "delta_contexts_17": {14}, "delta_precision_10": {16},
              "delta_precision_15": {16}, "delta_kind": {8}, "delta_count": {10, 11, 12, 13}}
    chunks = {n: MAKER.chunk_of(MAKER.parse_zipw(_read(f"errors/{n}.zipw")), "w") for n in fields}
    payloads = [c["payload"] for c in chunks.values()]
    assert len({len(p) for p in payloads}) == 1
    valid = bytes(max(set(col), key=col.count) for col in zip(*payloads))
    for n, c in chunks.items():
        assert {i for i, (x, y) in enumerate(zip(c["payload"], valid)) if x != y} <= fields[n], n
        assert c["checksum"] == chunks["delta_op"]["checksum"]
    base = ref_decoder.safetensors_tensors(_read(MAKER.ERROR_BASE))["w"][2]
    out = bytearray(len(base))
    delta.decode_chunk(delta.DELTA, valid, dtypes.BY_NAME["BF16"], memoryview(out), base)
    assert xxhash.xxh3_64_intdigest(bytes(out)) == chunks["delta_op"]["checksum"]
    assert ref_decoder.delta_decode(valid[8:], 0, base, len(base)) == bytes(out)
