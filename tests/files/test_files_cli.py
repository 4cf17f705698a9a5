"""The zipw command line: round trips, exit codes, folders, -o/-f/--rm, and that a
failed run leaves no output or temporary file and never modifies its input."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import zipweights
from zipweights import cli
from zipweights.format import safetensors_header as sth


def _listing(d) -> list[str]:
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


def _small_st(seed=0, n=3000) -> bytes:
    x = (np.random.default_rng(seed).standard_normal(n) * 0.02).astype(np.float32)
    return sth.build([("w", "F32", (n,), 4 * n)], {"format": "pt"}) + x.tobytes()


MMAP_BUG = (
    "BUG: a corrupt payload makes reader.decompress_file's cleanup `mm.close()` raise BufferError "
    "(memoryviews of the output mmap are kept alive by the traceback), which replaces the "
    "ChecksumMismatchError: the CLI dies with a traceback instead of 'zipw: ... checksum mismatch'"
)

WRITER_MMAP_BUG = (
    "BUG: writer.compress_file's cleanup `buf.close()` raises BufferError when write() fails "
    "(the traceback keeps memoryviews of the input mmap alive), replacing the "
    "InvalidArgumentError: `zipw compress -l 0` dies with a traceback instead of exit 2"
)


def test_cli_round_trip_real_weights(real_weights, tmp_path, capsys, sha256_file):
    src = tmp_path / "m.safetensors"
    shutil.copyfile(real_weights["bf16"], src)
    before = sha256_file(src)
    assert cli.main(["compress", "-T", "2", "-q", str(src)]) == 0
    z = tmp_path / "m.safetensors.zipw"
    assert sha256_file(src) == before
    os.rename(src, tmp_path / "orig.safetensors")
    assert cli.main(["decompress", "-T", "2", str(z)]) == 0
    assert sha256_file(src) == before
    err = capsys.readouterr().err
    assert "restored, chunk checksums verified" in err  # the default, as zstd's
    os.remove(src)
    assert cli.main(["decompress", "--sha256", str(z)]) == 0
    assert sha256_file(src) == before
    assert "restored, sha256 verified" in capsys.readouterr().err
    assert cli.main(["verify", "--original", str(src), str(z)]) == 0
    assert cli.main(["info", str(z)]) == 0
    out = capsys.readouterr().out
    assert "embeddings.word_embeddings.weight" in out and "BF16" in out and "30522x384" in out
    assert "encoder.layer.5.output.LayerNorm.bias" in out and before in out


def test_installed_console_script(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    exe = shutil.which("zipw") or os.path.join(os.path.dirname(sys.executable), "zipw")
    assert os.path.exists(exe), "the zipw console script is not installed"
    r = subprocess.run([exe, "compress", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([exe, "decompress", "-o", str(tmp_path / "b.safetensors"), str(src) + ".zipw"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b.safetensors").read_bytes() == src.read_bytes()
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and zipweights.__version__ in r.stdout


def test_existing_output_without_force(tmp_path, capsys, sha256_file):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    z = tmp_path / "s.safetensors.zipw"
    z.write_bytes(b"precious")
    assert cli.main(["compress", str(src)]) == 2
    assert z.read_bytes() == b"precious"
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["compress", "-f", "-q", str(src)]) == 0
    assert zipweights.ZipwFile(str(z)).original_sha256 == sha256_file(src)
    # decompress onto an existing file
    assert cli.main(["decompress", str(z)]) == 2
    assert sha256_file(src) == zipweights.ZipwFile(str(z)).original_sha256
    assert _listing(tmp_path) == ["s.safetensors", "s.safetensors.zipw"]


def test_rm_removes_input_after_success(tmp_path):
    src = tmp_path / "s.safetensors"
    data = _small_st()
    src.write_bytes(data)
    assert cli.main(["compress", "--rm", "-q", str(src)]) == 0
    assert _listing(tmp_path) == ["s.safetensors.zipw"]
    assert cli.main(["decompress", "--rm", "-q", str(tmp_path / "s.safetensors.zipw")]) == 0
    assert _listing(tmp_path) == ["s.safetensors"]
    assert src.read_bytes() == data


def test_rm_keeps_input_on_failure(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    (tmp_path / "s.safetensors.zipw").write_bytes(b"x")
    assert cli.main(["compress", "--rm", "-q", str(src)]) == 2
    assert src.exists()
    bad = tmp_path / "bad.zipw"
    bad.write_bytes(b"not a zipw file at all, just text" * 3)
    assert cli.main(["decompress", "--rm", "-q", str(bad)]) == 1
    assert bad.exists()


def test_folder_compress_and_output_folder(tmp_path, sha256_file):
    ckpt = tmp_path / "ckpt"
    (ckpt / "sub").mkdir(parents=True)
    files = {
        "model-00001-of-00002.safetensors": _small_st(1),
        "model-00002-of-00002.safetensors": _small_st(2, 500),
        "sub/extra.safetensors": _small_st(3, 10),
    }
    for name, data in files.items():
        (ckpt / name).write_bytes(data)
    (ckpt / "model.safetensors.index.json").write_text('{"weight_map": {"w": "model-00001-of-00002.safetensors"}}')
    (ckpt / "config.json").write_text("{}")
    before = {p: sha256_file(ckpt / p) for p in _listing(ckpt)}

    # -o: a new folder with the compressed files and copies of the rest
    out = tmp_path / "packed"
    assert cli.main(["compress", "-q", "-T", "2", str(ckpt), "-o", str(out)]) == 0
    assert _listing(out) == sorted([n + ".zipw" for n in files] + ["config.json", "model.safetensors.index.json"])
    assert (out / "model.safetensors.index.json").read_bytes() == (ckpt / "model.safetensors.index.json").read_bytes()
    assert {p: sha256_file(ckpt / p) for p in _listing(ckpt)} == before  # input folder untouched

    restored = tmp_path / "restored"
    assert cli.main(["decompress", "-q", str(out), "-o", str(restored)]) == 0
    assert {p: sha256_file(restored / p) for p in _listing(restored)} == before

    # in place: every *.safetensors gets a .zipw beside it, nothing else is touched
    assert cli.main(["compress", "-q", str(ckpt)]) == 0
    assert _listing(ckpt) == sorted(list(before) + [n + ".zipw" for n in files])
    assert {p: sha256_file(ckpt / p) for p in before} == before
    for n, data in files.items():
        with zipweights.ZipwFile(str(ckpt / (n + ".zipw"))) as zf:
            assert zf.original_sha256 == hashlib.sha256(data).hexdigest()


def test_single_file_into_output_folder(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    out = tmp_path / "o"
    out.mkdir()
    assert cli.main(["compress", "-q", str(src), "-o", str(out)]) == 0
    assert _listing(out) == ["s.safetensors.zipw"]
    back = tmp_path / "b"
    back.mkdir()
    assert cli.main(["decompress", "-q", str(out / "s.safetensors.zipw"), "-o", str(back)]) == 0
    assert (back / "s.safetensors").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("args", [
    ["compress", "/nonexistent/file.safetensors"],
    ["decompress", "/nonexistent/file.zipw"],
    ["compress", "-o", "x", "a", "b"],
    ["compress", "-l", "0", "{src}"],
    ["compress", "-l", "10", "{src}"],
])
def test_usage_errors_exit_2(tmp_path, args, capsys):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    args = [a.format(src=src) for a in args]
    assert cli.main(args) == 2
    assert capsys.readouterr().err.startswith("zipw: ")
    assert _listing(tmp_path) == ["s.safetensors"]


def test_decompress_without_suffix_needs_output(tmp_path):
    z = tmp_path / "model.bin"
    z.write_bytes(b"whatever")
    assert cli.main(["decompress", str(z)]) == 2


def test_bad_thread_count(capsys):
    assert cli.main(["compress", "-T", "-1", "x"]) == 2
    assert cli.main(["compress", "-T", "many", "x"]) == 2
    assert "threads must be a count" in capsys.readouterr().err


# -- corrupt / truncated input ---------------------------------------------------------------------
@pytest.fixture
def packed(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st(n=20000))
    zipweights.compress_file(src, chunk_size=8192, threads=1)
    src.unlink()
    return tmp_path / "s.safetensors.zipw"


@pytest.mark.parametrize("cut,needle", [(10, "truncated"), (1000, "truncated"), (-1, "truncated"), (-40, "truncated")])
def test_decompress_truncated_exit_1(packed, cut, needle, capsys, sha256_file):
    data = packed.read_bytes()
    packed.write_bytes(data[:cut])
    before = sha256_file(packed)
    assert cli.main(["decompress", str(packed)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zipw: ") and needle in err and "s.safetensors.zipw" in err
    assert _listing(packed.parent) == ["s.safetensors.zipw"]  # no output, no temp file
    assert sha256_file(packed) == before
    assert cli.main(["verify", str(packed)]) == 1
    assert cli.main(["info", str(packed)]) == 1


def test_decompress_corrupt_payload_exit_1(packed, capsys, sha256_file):
    data = bytearray(packed.read_bytes())
    data[5000] ^= 0x10  # inside the first chunk's payload
    packed.write_bytes(bytes(data))
    before = sha256_file(packed)
    assert cli.main(["decompress", str(packed)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zipw: ") and ("checksum mismatch" in err or "corrupt" in err or "invalid" in err)
    assert _listing(packed.parent) == ["s.safetensors.zipw"]
    assert sha256_file(packed) == before


def test_verify_corrupt_payload_exit_1(packed, capsys):
    data = bytearray(packed.read_bytes())
    data[5000] ^= 0x10
    packed.write_bytes(bytes(data))
    assert cli.main(["verify", str(packed)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zipw: ") and "'w' chunk" in err


def test_console_script_corrupt_file_leaves_nothing(packed):
    # a subprocess run of the installed script: whatever the exception path, exit status 1
    # and no file but the input in the directory
    data = bytearray(packed.read_bytes())
    data[5000] ^= 0x10
    packed.write_bytes(bytes(data))
    exe = shutil.which("zipw") or os.path.join(os.path.dirname(sys.executable), "zipw")
    r = subprocess.run([exe, "decompress", str(packed)], capture_output=True, text=True)
    assert r.returncode == 1
    assert _listing(packed.parent) == ["s.safetensors.zipw"]


def test_verify_against_wrong_original(packed, tmp_path, capsys):
    other = tmp_path / "other.bin"
    other.write_bytes(b"different")
    assert cli.main(["verify", "--original", str(other), str(packed)]) == 1
    assert "does not restore" in capsys.readouterr().err


def test_cli_max_size(tmp_path, capsys):
    # --max-size (as zstd's --memory): a file declaring more output than allowed is a
    # data error (exit 1) before anything is decoded or written; at the size, it passes
    src = tmp_path / "m.safetensors"
    data = _small_st()
    src.write_bytes(data)
    assert cli.main(["compress", "-q", str(src)]) == 0
    z = str(src) + ".zipw"
    out = tmp_path / "back.safetensors"
    for cmd in (["decompress", "-o", str(out)], ["verify"]):
        assert cli.main([*cmd, "--max-size", str(len(data) - 1), z]) == 1
        assert "more than max_output_size" in capsys.readouterr().err
        assert _listing(tmp_path) == ["m.safetensors", "m.safetensors.zipw"]
    assert cli.main(["decompress", "-q", "-o", str(out), "--max-size", str(len(data)), z]) == 0
    assert out.read_bytes() == data
    assert cli.main(["verify", "-q", "--max-size", "1K", z]) == 1
    assert cli.main(["verify", "--max-size", "lots", z]) == 2


def test_cli_refuses_an_index_the_reader_would_refuse(tmp_path, capsys):
    # 100 MiB in 1-byte chunks: a 2.5 GB chunk table, over the reader's index limit; refused
    # before a chunk is coded or an output exists (a sparse file: no disk used)
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        f.truncate(100 << 20)
    assert cli.main(["compress", "--chunk-size", "1", str(src)]) == 1
    assert "the index would be" in capsys.readouterr().err
    assert _listing(tmp_path) == ["big.bin"]
