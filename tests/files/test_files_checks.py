"""Which check catches what (spec/FORMAT.md, "What the checks catch").

Every chunk's xxh3-64 of its decoded bytes is checked by every decode: decompress,
restore, verify and every load path. The whole-file sha256 is checked by verify and
by decompress with check_sha256=True, never by a load. The chunk checks cover every
payload byte; the index (prefix included) is covered by the trailer's xxh3, so what
only the sha256 catches is an index rewritten together with its checksum: a changed
prefix (the kept safetensors header) restores, chunk by chunk correctly, a file that
is not the original.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import zipweights
import zipweights.numpy as znp
from zipweights.errors import ChecksumMismatchError, CorruptDataError, UnsupportedFeatureError, ZipWeightsError

PAYLOAD_ERRORS = (ChecksumMismatchError, CorruptDataError, UnsupportedFeatureError)
PREFIX_AT = 56  # original_size, original_sha256, source_kind, has_base, reserved, prefix_length (spec 5)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    rng = np.random.default_rng(7)
    tensors = {"a": rng.standard_normal((64, 96)).astype(np.float32),
               "b": rng.standard_normal(5000).astype(np.float16)}
    d = tmp_path_factory.mktemp("checks")
    st = d / "m.safetensors"
    from safetensors.numpy import save_file

    save_file(tensors, str(st), metadata={"note": "abc"})
    zw = d / "m.safetensors.zipw"
    zipweights.compress_file(st, zw)
    return {"st": st.read_bytes(), "zipw": zw.read_bytes(), "tensors": tensors}


def _corrupt_payload(z: bytes) -> bytes:
    with zipweights.ZipwFile(z) as zf:
        row = zf.tensor("a").chunks[0]
    bad = bytearray(z)
    pos = int(row["offset"]) + int(row["length"]) // 2
    bad[pos] ^= 0x10
    return bytes(bad)


def _all_loads(path):
    """Every load path over `path`, each giving the tensors' bytes by name."""
    def np_load_file():
        return {k: v.tobytes() for k, v in znp.load_file(path).items()}

    def np_load():
        return {k: v.tobytes() for k, v in znp.load(open(path, "rb").read()).items()}

    def lazy_each():
        with zipweights.safe_open(path, framework="np") as f:
            return {k: f.get_tensor(k).tobytes() for k in f.keys()}

    def transparent():
        import safetensors.numpy

        with zipweights.enabled():
            return {k: v.tobytes() for k, v in safetensors.numpy.load_file(path).items()}

    loads = [np_load_file, np_load, lazy_each, transparent]
    try:
        import zipweights.torch as zt
    except ImportError:  # torch is optional
        return loads

    def torch_load_file():
        return {k: v.contiguous().view(-1).numpy().view(np.uint8).tobytes() for k, v in zt.load_file(path).items()}

    return loads + [torch_load_file]


def test_corrupted_payload_is_caught_by_default_decompress_and_every_load(small, tmp_path):
    src = tmp_path / "bad.safetensors.zipw"
    src.write_bytes(_corrupt_payload(small["zipw"]))
    with pytest.raises(PAYLOAD_ERRORS, match="'a' chunk 0"):
        zipweights.decompress_file(src, tmp_path / "out.safetensors")  # default: chunk checks only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors.zipw"]
    with pytest.raises(PAYLOAD_ERRORS, match="'a' chunk 0"):
        zipweights.verify_file(src)
    with zipweights.ZipwFile(src) as zf:
        with pytest.raises(PAYLOAD_ERRORS, match="'a' chunk 0"):
            zf.restore_into(bytearray(zf.original_size))
    for load in _all_loads(src):
        with pytest.raises(ZipWeightsError, match="'a' chunk 0"):
            load()


def _prefix_changed(z: bytes, craft) -> bytes:
    def edit(b):
        k = bytes(b).index(b'"abc"', PREFIX_AT)
        b[k + 1] = ord("x")  # "abc" -> "xbc": valid JSON, same length, same tensors

    return craft.edit_index_bytes(z, edit)


def test_only_the_sha256_catches_a_rewritten_prefix(small, craft, tmp_path):
    src = tmp_path / "bad.safetensors.zipw"
    src.write_bytes(_prefix_changed(small["zipw"], craft))
    # every chunk is right: the default decompress restores a file that is not the original
    out = zipweights.decompress_file(src, tmp_path / "out.safetensors")
    got = open(out, "rb").read()
    assert got != small["st"] and len(got) == len(small["st"])
    assert hashlib.sha256(got).hexdigest() != out.original_sha256
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        zipweights.decompress_file(src, tmp_path / "out2.safetensors", check_sha256=True)
    assert not (tmp_path / "out2.safetensors").exists()
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        zipweights.verify_file(src)
    for threads in (1, 2):
        with zipweights.ZipwFile(src) as zf:
            with pytest.raises(ChecksumMismatchError, match="sha256"):
                zf.restore_into(bytearray(zf.original_size), threads=threads, check_sha256=True)
            with pytest.raises(ChecksumMismatchError, match="sha256"):
                zf.verify(threads=threads)
    # a load never computes the sha256: the tensors are right, only the metadata is changed
    for load in _all_loads(src):
        got = load()
        assert got == {k: v.tobytes() for k, v in small["tensors"].items()}, load.__name__
    with zipweights.safe_open(src, framework="np") as f:
        assert f.metadata() == {"note": "xbc"}


def test_the_untouched_file_passes_every_check(small, tmp_path):
    src = tmp_path / "m.safetensors.zipw"
    src.write_bytes(small["zipw"])
    for check in (False, True):
        out = zipweights.decompress_file(src, tmp_path / f"out{check}.safetensors", check_sha256=check)
        assert open(out, "rb").read() == small["st"]
    zipweights.verify_file(src)
    for load in _all_loads(src):
        assert load() == {k: v.tobytes() for k, v in small["tensors"].items()}, load.__name__


def test_every_payload_byte_is_chunk_checked(small):
    # the chunks tile [16, index_offset) (spec 5.2), so no payload byte is outside a
    # chunk check: flipping any one of them never goes unnoticed AND wrong
    z = small["zipw"]
    with zipweights.ZipwFile(z) as zf:
        rows = [r for e in zf.entries for r in e.chunks]
        spans = sorted((int(r["offset"]), int(r["offset"]) + int(r["length"])) for r in rows)
        end = zf.index.entries and spans[-1][1]
    assert spans[0][0] == 16 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    for pos in range(16, end, 97):
        bad = bytearray(z)
        bad[pos] ^= 0x01
        try:
            with zipweights.ZipwFile(bytes(bad)) as zf:
                out = bytearray(zf.original_size)
                zf.restore_into(out, threads=1)
        except ZipWeightsError:
            continue
        assert bytes(out) == small["st"], f"flip at {pos}: silently wrong"


def test_cli_decompress_checks_the_sha256_only_when_asked(small, craft, tmp_path):
    # zipw decompress as zstd: chunk checksums by default; --sha256 refuses the rewritten
    # prefix and leaves nothing behind; verify always refuses it
    import subprocess
    import sys

    src = tmp_path / "bad.safetensors.zipw"
    src.write_bytes(_prefix_changed(small["zipw"], craft))
    zipw = [sys.executable, "-m", "zipweights.cli"]
    r = subprocess.run([*zipw, "decompress", "--sha256", str(src)], capture_output=True, text=True)
    assert r.returncode != 0 and "sha256" in r.stderr, r.stderr
    assert not (tmp_path / "bad.safetensors").exists()
    r = subprocess.run([*zipw, "verify", str(src)], capture_output=True, text=True)
    assert r.returncode != 0 and "sha256" in r.stderr, r.stderr
    r = subprocess.run([*zipw, "decompress", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "bad.safetensors").read_bytes() != small["st"]
