"""Start-up: what each command imports (the time itself is measured in
bench/startup_bench.py, never asserted here). `zipw --version` and a usage error import
none of numpy, the kernels, the writer or reader, tqdm or huggingface_hub; `import
zipweights` alone imports no numpy; every public name still works."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("argv", [["--version"], ["compress", "-l", "12", "x"], ["mirror", "--help"], ["-h"]])
def test_parsing_imports_nothing_heavy(argv):
    code = f"from zipweights import cli\ntry:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass"
    assert _imported(code) == []


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
