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
