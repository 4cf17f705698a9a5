"""Start-up: what each command imports (the time itself is measured in
bench/startup_bench.py, never asserted here). The console script's `zipw --version`
imports neither argparse nor zipweights.cli; `--version` and a usage error import none
of numpy, the kernels, the writer or reader, tqdm or huggingface_hub; `import
zipweights` alone imports no numpy; every public name still works; the console script
asks numpy's OpenBLAS for one thread unless the user chose."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("numpy", "tqdm", "huggingface_hub", "zstandard", "xxhash", "safetensors", "zipweights._ckernels",
         "zipweights.writer", "zipweights.reader", "zipweights.hub.mirror")


def _imported(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--version"], ["-V"], ["compress", "-l", "12", "x"], ["mirror", "--help"], ["-h"]])
def test_parsing_imports_nothing_heavy(argv):
    code = f"from zipweights import cli\ntry:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass"
    assert _imported(code) == []


def _script_imports(*argv: str) -> set[str]:
    """The modules the installed `zipw` console script imports (python -X importtime
    of the script itself), or of its entry module where it is not installed."""
    from _zipw_cli import zipw_command

    cmd = zipw_command()
    target = [cmd[0]] if len(cmd) == 1 else ["-m", "zipweights._cli_main"]
    r = subprocess.run([sys.executable, "-X", "importtime", *target, *argv], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}


def test_console_script_version_is_lean():
    seen = _script_imports("--version")
    assert "zipweights._cli_main" in seen  # the entry point is the lean one
    assert not seen & {"zipweights.cli", "argparse", "shutil", *HEAVY}, sorted(seen)


def test_console_script_help_builds_no_codec():
    seen = _script_imports("compress", "--help")
    assert "zipweights.cli" in seen and not seen & {"shutil", *HEAVY}, sorted(seen)


@pytest.mark.parametrize("preset", [None, "3"])
def test_one_openblas_thread_unless_chosen(tmp_path, preset):
    from _zipw_cli import small_st

    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st())
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    code = ("import os, sys; from zipweights._cli_main import main; s = main(['compress', '-q', sys.argv[1]]); "
            "import numpy; print(s, os.environ['OPENBLAS_NUM_THREADS'])")
    r = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", preset or "1"]


def test_import_zipweights_is_light():
    assert _imported("import zipweights") == []


def test_compress_imports_the_writer_not_the_hub(tmp_path):
    from _zipw_cli import small_st

    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st())
    got = _imported(f"from zipweights import cli\ncli.main(['compress', '-q', {str(src)!r}])")
    assert "zipweights.writer" in got and "numpy" in got
    assert "huggingface_hub" not in got and "tqdm" not in got and "zipweights.reader" not in got


def test_public_names_still_work():
    import zipweights

    for name in zipweights.__all__:
        assert getattr(zipweights, name) is not None, name
    from zipweights import ZipwFile, compress_file, decompress_file, enable, safe_open  # noqa: F401

    assert zipweights.reader.ZipwFile is zipweights.ZipwFile
    assert "compress_file" in dir(zipweights)
    with pytest.raises(AttributeError):
        zipweights.no_such_name  # noqa: B018
