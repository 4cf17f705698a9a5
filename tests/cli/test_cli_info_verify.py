"""info and verify on folders and standard input, --json for scripts; bench and mirror
refusals that used to end in tracebacks; mirror --ray's contract; mirror --dry-run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _zipw_cli import run, small_st

import zipweights
from zipweights import cli


@pytest.fixture
def packed_dir(tmp_path):
    d = tmp_path / "packed"
    (d / "sub").mkdir(parents=True)
    for k, rel in enumerate(("a.safetensors", "sub/b.safetensors")):
        (d / rel).write_bytes(small_st(k))
        zipweights.compress_file(str(d / rel))
    (d / "notes.txt").write_text("not a zipw")
    return d


def test_verify_and_info_take_folders(packed_dir, capsys):
    assert cli.main(["verify", str(packed_dir)]) == 0
    err = capsys.readouterr().err
    assert err.count(": OK (") == 2 and "notes.txt" not in err
    assert cli.main(["info", str(packed_dir)]) == 0
    out = capsys.readouterr().out
    assert "a.safetensors.zipw: format v" in out and "b.safetensors.zipw: format v" in out


def test_json_lines(packed_dir, capsys):
    assert cli.main(["info", "--json", str(packed_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == ["a.safetensors.zipw", "b.safetensors.zipw"]
    for r in rows:
        with zipweights.ZipwFile(r["file"]) as zf:
            assert (r["original_sha256"], r["original_size"], r["compressed_size"]) == (
                zf.original_sha256, zf.original_size, zf.compressed_size)
            assert [e["name"] for e in r["entries"]] == ["w"] and r["source"] == "safetensors"
            assert sum(e["chunks"] for e in r["entries"]) == sum(len(e.chunks) for e in zf.entries)
    bad = packed_dir / "sub" / "b.safetensors.zipw"
    data = bytearray(bad.read_bytes())
    data[200] ^= 0x40
    bad.write_bytes(bytes(data))
    assert cli.main(["verify", "--json", str(packed_dir)]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["ok"] for r in rows] == [True, False] and rows[1]["error"]


def test_info_and_verify_from_stdin(packed_dir):
    with open(packed_dir / "a.safetensors.zipw", "rb") as f:
        r = run("info", "--json", "-", stdin=f)
    assert r.returncode == 0 and json.loads(r.stdout)["file"] == "-"
    with open(packed_dir / "a.safetensors.zipw", "rb") as f:
        assert run("verify", "-q", "-", stdin=f).returncode == 0


def test_bench_needs_a_run(tmp_path, capsys):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st())
    assert cli.main(["bench", "-r", "0", str(src)]) == 2
    assert "runs must be at least 1" in capsys.readouterr().err


def test_mirror_from_a_local_path_is_a_usage_error(capsys):
    assert cli.main(["mirror", "--restore", "./m2", "./r3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zipw: mirror: SRC ./m2 is a local path") and "zipw decompress ./m2" in err
    assert "HFValidationError" not in err


def test_ray_flag_contract():
    p = cli._parser()
    assert p.parse_args(["mirror", "--list", "x"]).ray is None
    assert p.parse_args(["mirror", "--ray", "--list", "x"]).ray == "local"
    assert p.parse_args(["mirror", "--ray", "ray://head:10001", "--list", "x"]).ray == "ray://head:10001"
    # without --ray, neither the Ray module nor ray itself is imported
    code = ("import sys; from zipweights import cli; cli.main(['mirror', './a', './b']); "
            "print(any(m == 'ray' or m.startswith(('ray.', 'zipweights.hub.ray_mirror')) for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False", r.stderr


def test_ray_missing_is_a_clear_error(tmp_path):
    try:
        import ray  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ray is installed: mirror --ray would start it")
    lst = tmp_path / "pairs.txt"
    lst.write_text("org/a ./a\n")
    r = run("mirror", "--ray", "--list", lst, cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode != 0 and "Traceback" not in err and ("ray" in err.lower())


def test_mirror_dry_run_lists_the_card_and_the_manifest():
    from zipweights.hub import mirror as zm

    p = zm.Plan("org/m", "main", "0123456789abcdef", "./out", True,
                [("model.safetensors", 10, None, "x")], [], "README.md")
    lines = []
    zm._log_dry_run(p, False, lines.append)
    assert lines[0].startswith("would compress model.safetensors")
    assert any(line.startswith("would write README.md: the source's card with a note") for line in lines)
    assert any(line.startswith("would write .zipw-mirror.json") for line in lines)
    lines.clear()
    zm._log_dry_run(p, True, lines.append)
    assert any("less that note" in line for line in lines)
    lines.clear()
    zm._log_dry_run(p, False, lines.append, exclude=["README.md"])
    assert not any("README.md:" in line for line in lines)
