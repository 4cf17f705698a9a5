"""Several inputs as gzip and zstd take them: what cannot be done is reported and
skipped, the rest is done, the status is the worst; every output is checked before any
work; a .zipw is not compressed again; --dtype is for files that are not safetensors."""

from __future__ import annotations

import os

from _zipw_cli import listing, run, small_st

import zipweights
from zipweights import cli


def _three(tmp_path):
    for k, n in enumerate("abc"):
        (tmp_path / f"{n}.safetensors").write_bytes(small_st(k))
    return [str(tmp_path / f"{n}.safetensors") for n in "abc"]


def test_existing_output_is_skipped_and_the_rest_done(tmp_path):
    a, b, c = _three(tmp_path)
    (tmp_path / "a.safetensors.zipw").write_bytes(b"precious")
    r = run("compress", a, b, c)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "a.safetensors.zipw already exists" in err and "1 of 3 files not done" in err
    assert (tmp_path / "a.safetensors.zipw").read_bytes() == b"precious"
    for p in (b, c):
        with zipweights.ZipwFile(p + ".zipw") as zf:
            zf.verify()


def test_missing_and_corrupt_inputs_do_not_stop_the_run(tmp_path, capsys):
    a, b, c = _three(tmp_path)
    assert cli.main(["compress", "-q", a, str(tmp_path / "nope.safetensors"), b]) == 2
    assert "nope.safetensors: no such file or directory" in capsys.readouterr().err
    (tmp_path / "c.safetensors.zipw").write_bytes(b"ZIPW but not really" * 4)
    for p in (a, b, c):
        os.unlink(p)
    assert cli.main(["decompress", "-q", a + ".zipw", str(tmp_path / "c.safetensors.zipw"), b + ".zipw"]) == 1
    assert (tmp_path / "a.safetensors").read_bytes() == small_st(0)
    assert (tmp_path / "b.safetensors").read_bytes() == small_st(1)
    assert "c.safetensors.zipw" in capsys.readouterr().err


def test_worst_status_wins(tmp_path):
    a, b, c = _three(tmp_path)
    zipweights.compress_file(a)
    (tmp_path / "b.safetensors.zipw").write_bytes(b"junk" * 40)
    (tmp_path / "a.safetensors").unlink()
    os.unlink(b)
    # a: restored; b: corrupt (1); c: no .zipw suffix (2)
    assert cli.main(["decompress", "-q", a + ".zipw", b + ".zipw", c]) == 2
    assert (tmp_path / "a.safetensors").exists() and not (tmp_path / "b.safetensors").exists()


def test_a_zipw_is_not_compressed_again(tmp_path, capsys):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st())
    zipweights.compress_file(str(src))
    z = str(src) + ".zipw"
    assert cli.main(["compress", z]) == 2
    assert "already has the .zipw suffix" in capsys.readouterr().err
    assert listing(tmp_path) == ["s.safetensors", "s.safetensors.zipw"]
    assert cli.main(["compress", "-q", "-f", z]) == 0  # as gzip -f
    assert (tmp_path / "s.safetensors.zipw.zipw").exists()


def test_outputs_checked_before_any_work(tmp_path, capsys):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st(n=200_000))
    assert cli.main(["compress", str(src), "-o", str(tmp_path / "newdir") + "/"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert cli.main(["compress", str(src), "-o", str(tmp_path / "missing" / "x.zipw")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "fifo").mkdir()
    assert cli.main(["compress", str(src), "-o", str(tmp_path / "fifo")]) == 0  # an existing folder takes the file
    assert listing(tmp_path) == ["fifo/s.safetensors.zipw", "s.safetensors"]


def test_dtype_is_for_files_that_are_not_safetensors(tmp_path, capsys):
    src = tmp_path / "m.safetensors"
    src.write_bytes(small_st(dtype="BF16"))
    assert cli.main(["compress", "--dtype", "BF16", str(src)]) == 2
    assert "--raw" in capsys.readouterr().err
    assert listing(tmp_path) == ["m.safetensors"]
    other = tmp_path / "renamed.bin"  # a safetensors file by its content, not its name
    other.write_bytes(src.read_bytes())
    assert cli.main(["compress", "--dtype", "BF16", str(other)]) == 2
    assert cli.main(["compress", "-q", "--dtype", "BF16", "--raw", str(src)]) == 0  # forced: as bytes
    with zipweights.ZipwFile(str(src) + ".zipw") as zf:
        assert zf.index.source_kind != 1 and zf.entries[0].dtype.name == "BF16"
    raw = tmp_path / "weights.bin"  # today's spelling
    raw.write_bytes(src.read_bytes()[-6000:])
    assert cli.main(["compress", "-q", "--dtype", "BF16", str(raw)]) == 0
    with zipweights.ZipwFile(str(raw) + ".zipw") as zf:
        assert zf.entries[0].dtype.name == "BF16"


def test_rm_refused_for_stdin():
    assert run("compress", "--rm", "-", input=small_st()).returncode == 2


def _locked_folder(path, files=()):
    """A folder (holding `files`, moved in) in which nobody may create a file, even root
    (an immutable folder: chattr +i; for any other user a mode 555 folder does it), and
    how to unlock it."""
    import shutil
    import subprocess

    import pytest

    path.mkdir()
    for f in files:
        os.rename(f, path / os.path.basename(f))
    if os.geteuid() != 0:
        path.chmod(0o555)
        return lambda: path.chmod(0o755)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("root, and this filesystem has no immutable folders: nothing refuses root a write")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_unwritable_folders_are_refused_before_any_work(tmp_path):
    a, b, c = _three(tmp_path)
    unlock = _locked_folder(tmp_path / "locked")
    try:
        r = run("compress", a, b, c, "--output-dir-flat", tmp_path / "locked")
        r2 = run("compress", a, b, c, "--output-dir-mirror", tmp_path / "locked" / "sub")
    finally:
        unlock()
    for res in (r, r2):
        assert res.returncode == 1  # as the write itself would fail (zstd: 1)
        lines = res.stderr.decode().splitlines()
        assert len(lines) == 4 and all(x.endswith(".zipw: Permission denied") and "/locked/" in x for x in lines[:3]), lines
        assert lines[3] == "zipw: 3 of 3 files not done (see above)"
    assert os.listdir(tmp_path / "locked") == []


def test_a_refused_output_is_reported_before_the_others_are_coded(tmp_path):
    a, b, c = _three(tmp_path)
    unlock = _locked_folder(tmp_path / "locked", [b])  # b's output would go beside it
    try:
        r = run("compress", a, tmp_path / "locked" / "b.safetensors", c)
    finally:
        unlock()
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[0] == f"zipw: {tmp_path}/locked/b.safetensors.zipw: Permission denied", lines
    assert lines[1].startswith(f"{a}: ") and lines[2].startswith(f"{c}: ") and "1 of 3" in lines[3]
    assert os.path.exists(a + ".zipw") and os.path.exists(c + ".zipw")


def test_an_output_under_a_file_is_refused_before_any_work(tmp_path):
    a, b, c = _three(tmp_path)
    r = run("compress", a, b, "--output-dir-flat", tmp_path / "c.safetensors" / "x")
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.count("a parent of this path is not a folder") == 2 and "2 of 2 files not done" in err
    assert not (tmp_path / "a.safetensors.zipw").exists()
