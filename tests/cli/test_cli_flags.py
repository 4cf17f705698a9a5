"""zstd's flags: -d (and -d inside groups such as -dc, -kdf), -k/--rm, -# for levels, -T0,
-r, --output-dir-flat and --output-dir-mirror; today's spellings keep working."""

from __future__ import annotations

import pytest
from _zipw_cli import listing, run, small_st

import zipweights
from zipweights import cli
from zipweights.codec import chain


def test_levels_spelled_as_the_codec_has_them():
    # the command line names the levels without importing the codec: the two must agree
    assert (cli.MIN_LEVEL, cli.MAX_LEVEL, cli.DEFAULT_LEVEL) == (chain.MIN_LEVEL, chain.MAX_LEVEL, chain.DEFAULT_LEVEL)
    assert sorted(chain._LEVELS) == list(range(chain.MIN_LEVEL, chain.MAX_LEVEL + 1))


@pytest.mark.parametrize("argv,want", [
    (["m"], ["compress", "m"]),
    (["-9", "m"], ["compress", "-9", "m"]),
    (["-d", "m"], ["decompress", "m"]),
    (["-dc", "m"], ["decompress", "-c", "m"]),
    (["-kdf", "-T4", "m"], ["decompress", "-kf", "-T4", "m"]),
    (["-dT", "4", "m"], ["decompress", "-T", "4", "m"]),
    (["-o", "-d", "m"], ["compress", "-o", "-d", "m"]),  # -d is the output's name here
    (["--output", "-d", "m"], ["compress", "--output", "-d", "m"]),
    (["--decompress", "m"], ["decompress", "m"]),
    (["-d", "--", "-d"], ["decompress", "--", "-d"]),
    (["info", "-d"], ["info", "-d"]),  # a command word: left alone
    (["--version"], ["--version"]),
])
def test_zstd_command_lines(argv, want):
    assert cli._command_argv(argv) == want


def test_hash_levels_are_levels(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st(n=40_000))
    for lv in (1, 9):
        assert cli.main(["compress", "-q", f"-{lv}", str(src), "-o", str(tmp_path / f"h{lv}.zipw")]) == 0
        assert cli.main(["compress", "-q", "-l", str(lv), str(src), "-o", str(tmp_path / f"l{lv}.zipw")]) == 0
        assert (tmp_path / f"h{lv}.zipw").read_bytes() == (tmp_path / f"l{lv}.zipw").read_bytes()
    assert cli.main(["compress", "-q", "-9f", str(src), "-o", str(tmp_path / "g.zipw")]) == 0  # in a group
    assert (tmp_path / "g.zipw").read_bytes() == (tmp_path / "h9.zipw").read_bytes()
    assert cli.main(["compress", "-0", str(src)]) == 2
    assert cli.main(["compress", "-l", "10", str(src)]) == 2


def test_all_cores_and_determinism(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st(n=300_000))
    assert cli.main(["compress", "-q", "-T0", str(src), "-o", str(tmp_path / "all.zipw")]) == 0
    assert cli.main(["compress", "-q", "-T", "1", "--chunk-size", "65536", str(src), "-o", str(tmp_path / "one.zipw")]) == 0
    assert cli.main(["compress", "-q", "-T", "2", "--chunk-size", "65536", str(src), "-o", str(tmp_path / "two.zipw")]) == 0
    assert (tmp_path / "one.zipw").read_bytes() == (tmp_path / "two.zipw").read_bytes()
    with zipweights.ZipwFile(str(tmp_path / "all.zipw")) as zf:
        zf.verify()


def test_keep_and_rm_last_one_wins(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st())
    assert cli.main(["compress", "-q", "--rm", "-k", str(src)]) == 0
    assert listing(tmp_path) == ["s.safetensors", "s.safetensors.zipw"]
    assert cli.main(["compress", "-q", "-f", "-k", "--rm", str(src)]) == 0
    assert listing(tmp_path) == ["s.safetensors.zipw"]


def _tree(tmp_path):
    (tmp_path / "ckpt" / "sub").mkdir(parents=True)
    (tmp_path / "ckpt" / "a.safetensors").write_bytes(small_st(1))
    (tmp_path / "ckpt" / "sub" / "b.safetensors").write_bytes(small_st(2))
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    (tmp_path / "c.safetensors").write_bytes(small_st(3))


def test_output_dir_flat(tmp_path, monkeypatch):
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compress", "-q", "-r", "--output-dir-flat", "flat/new", "ckpt", "c.safetensors"]) == 0
    assert listing(tmp_path / "flat") == ["new/a.safetensors.zipw", "new/b.safetensors.zipw", "new/c.safetensors.zipw"]
    assert cli.main(["decompress", "-q", "--output-dir-flat", "back", "flat/new"]) == 0
    for name, orig in (("a", "ckpt/a"), ("b", "ckpt/sub/b"), ("c", "c")):
        assert (tmp_path / "back" / f"{name}.safetensors").read_bytes() == (tmp_path / f"{orig}.safetensors").read_bytes()


def test_output_dir_flat_name_clash_skips_the_second(tmp_path, capsys):
    _tree(tmp_path)
    (tmp_path / "ckpt" / "sub" / "a.safetensors").write_bytes(small_st(4))
    assert cli.main(["compress", "-q", "--output-dir-flat", str(tmp_path / "flat"), str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err
    assert "also the output of" in err and "1 of 3 files not done" in err
    with zipweights.ZipwFile(str(tmp_path / "flat" / "a.safetensors.zipw")) as zf:  # the first one's
        assert zf.original_size == (tmp_path / "ckpt" / "a.safetensors").stat().st_size


def test_output_dir_mirror(tmp_path, capsys, monkeypatch):
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compress", "-q", "--output-dir-mirror", "mir", "ckpt", "./c.safetensors"]) == 0
    assert listing(tmp_path / "mir") == ["c.safetensors.zipw", "ckpt/a.safetensors.zipw", "ckpt/sub/b.safetensors.zipw"]
    monkeypatch.chdir(tmp_path / "ckpt")
    assert cli.main(["compress", "-q", "--output-dir-mirror", "../mir2", "../c.safetensors"]) == 2
    assert "no path through '..'" in capsys.readouterr().err
    assert not (tmp_path / "mir2").exists()


def test_one_place_for_outputs(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st())
    assert cli.main(["compress", "-c", "--output-dir-flat", "x", str(src)]) == 2
    assert cli.main(["compress", "-o", "x.zipw", "--output-dir-mirror", "x", str(src)]) == 2
    assert cli.main(["compress", "-c", "--rm", str(src)]) == 2
    assert listing(tmp_path) == ["s.safetensors"]


def test_subprocess_spellings(st_file, tmp_path):
    # the console script as typed: -T0, -#, -k, -r, -f, together
    r = run("-T0", "-1", "-k", "-r", "-f", st_file)
    assert r.returncode == 0, r.stderr
    r = run("-d", "-f", "-T0", str(st_file) + ".zipw")
    assert r.returncode == 0 and st_file.read_bytes() == small_st()
