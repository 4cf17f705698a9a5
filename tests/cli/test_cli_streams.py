"""Pipes: '-' and -c on compress and decompress, zstd's `zipw`, `zipw -d`, `zipw -dc`, a
terminal refused, errors that name stdin, and a reader of stdout that goes away."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest
from _zipw_cli import listing, run, small_st

import zipweights


def test_pipe_round_trip_is_byte_exact(st_file, tmp_path):
    data = st_file.read_bytes()
    with open(st_file, "rb") as f:
        packed = run("compress", "-", stdin=f)  # cat m.safetensors | zipw compress - > m.zipw
    assert packed.returncode == 0, packed.stderr
    # the same bytes as compressing the file by name, to stdout
    assert packed.stdout == run("compress", "-c", st_file).stdout
    assert packed.stdout == run("compress", "-o", "-", st_file).stdout
    back = run("-d", input=packed.stdout)  # zipw -d < m.zipw
    assert back.returncode == 0, back.stderr
    assert back.stdout == data
    assert b"stdin:" in back.stderr and b"restored to stdout, chunk checksums verified" in back.stderr
    back = run("-d", "--sha256", input=packed.stdout)
    assert back.returncode == 0 and back.stdout == data and b"restored to stdout, sha256 verified" in back.stderr
    assert listing(tmp_path) == ["m.safetensors"]  # nothing left behind, in the folder or as a spool


def test_zstd_spellings(st_file, tmp_path):
    data = st_file.read_bytes()
    with open(st_file, "rb") as f:
        plain = run(stdin=f)  # cat m.safetensors | zipw > m.zipw
    assert plain.returncode == 0 and plain.stdout[1:5] == b"ZIPW"
    assert run(st_file, "-q").returncode == 0  # zipw FILE
    z = tmp_path / "m.safetensors.zipw"
    assert z.read_bytes() == plain.stdout
    dc = run("-dc", z)  # zipwcat
    assert dc.returncode == 0 and dc.stdout == data
    st_file.unlink()
    assert run("-d", "-q", z).returncode == 0  # zipw -d FILE.zipw
    assert st_file.read_bytes() == data and z.exists()  # -k is the default


def test_stdin_to_a_named_output(st_file, tmp_path):
    out = tmp_path / "o.zipw"
    with open(st_file, "rb") as f:
        r = run("compress", "-", "-o", out, stdin=f)
    assert r.returncode == 0 and r.stdout == b""
    with zipweights.ZipwFile(str(out)) as zf:
        assert zf.original_size == st_file.stat().st_size
    back = tmp_path / "b.safetensors"
    with open(out, "rb") as f:
        assert run("decompress", "-", "-o", back, stdin=f).returncode == 0
    assert back.read_bytes() == st_file.read_bytes()
    mask = os.umask(0)
    os.umask(mask)
    assert (back.stat().st_mode & 0o777) == 0o666 & ~mask  # a new file, not the spool's 0600


def test_refuses_a_terminal(st_file, tmp_path):
    master, slave = pty.openpty()
    try:
        r = run("compress", "-c", st_file, stdout=slave)
        assert r.returncode == 2 and b"stdout is a terminal" in r.stderr
        r = run("compress", stdin=slave, stdout=subprocess.PIPE)
        assert r.returncode == 2 and b"stdin is a terminal" in r.stderr
    finally:
        os.close(master)
        os.close(slave)
    assert listing(tmp_path) == ["m.safetensors"]


def test_errors_on_stdin_name_stdin(tmp_path):
    r = run("-d", input=b"this is not a zipw file, only text" * 10)
    assert r.returncode == 1
    msg = r.stderr.decode()
    assert msg.startswith("zipw: stdin") and "zipw-stdin-" not in msg and "/tmp" not in msg


@pytest.mark.parametrize("args", [["info", "{z}"], ["-dc", "{z}"], ["compress", "-c", "{src}"]])
def test_reader_gone_ends_quietly(st_file, args):
    # as `zipw info m.zipw | head` when head has gone: no message, 128 + SIGPIPE
    zipweights.compress_file(str(st_file))
    argv = [a.format(z=str(st_file) + ".zipw", src=st_file) for a in args]
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    try:
        r = run(*argv, stdout=w_fd)
    finally:
        os.close(w_fd)
    assert (r.returncode, r.stderr) == (141, b"")


def test_several_inputs_to_stdout(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.write_bytes(small_st(1))
    b.write_bytes(small_st(2))
    assert run("compress", "-c", a, b).returncode == 2  # .zipw files do not concatenate
    assert run("-q", a, b).returncode == 0
    r = run("-dc", str(a) + ".zipw", str(b) + ".zipw")  # decompressed ones do, as zcat
    assert r.returncode == 0 and r.stdout == a.read_bytes() + b.read_bytes()


def test_zipwcat_entry_point(st_file):
    # what a `zipwcat` console script runs (pyproject's [project.scripts] names it)
    zipweights.compress_file(str(st_file))
    code = "import sys; from zipweights.cli import cat_main; sys.exit(cat_main())"
    r = subprocess.run([sys.executable, "-c", code, str(st_file) + ".zipw"], capture_output=True)
    assert r.returncode == 0 and r.stdout == st_file.read_bytes()
    with open(str(st_file) + ".zipw", "rb") as f:
        r = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True)
    assert r.returncode == 0 and r.stdout == st_file.read_bytes()
