"""zipweights imported from its own source tree where the C kernels are not built (a
checkout, a `pip install .` shadowed by the tree): a clear message naming the checkout and
the ways out, as numpy gives, never a circular-import traceback. With Numba it runs on the
Numba kernels and says so once (a warning); without it, the import fails with that
message. Each case runs in a fresh interpreter on a copy of the package without its
compiled module."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# the copy must be what is imported: the editable install's finder (pip install -e)
# would hand out the checkout's compiled module for a submodule the copy lacks
PRELUDE = textwrap.dedent(
    """
    import sys
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, ".")
    """
)
# a Python without numba: its import refused, as where it is not installed
NO_NUMBA = textwrap.dedent(
    """
    class _NoNumba:
        def find_spec(self, name, path=None, target=None):
            if name == "numba" or name.startswith("numba."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, _NoNumba())
    """
)


@pytest.fixture
def tree(tmp_path):
    """a source tree: the package (no compiled module), csrc/ and setup.py"""
    shutil.copytree(ROOT / "zipweights", tmp_path / "zipweights",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
    (tmp_path / "csrc").mkdir()
    shutil.copy(ROOT / "setup.py", tmp_path / "setup.py")
    return tmp_path


def run(tree, code, env_extra=None):
    import os

    env = {k: v for k, v in os.environ.items() if k != "ZIPWEIGHTS_KERNELS"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=600)


def test_numba_runs_and_says_so_once(tree):
    r = run(tree, """
        import warnings
        import zipweights, zipweights._kernels as K
        import os
        assert os.path.abspath(zipweights.__file__).startswith(os.getcwd())  # the copy
        print(K.BACKEND)
        import zipweights.codec.chain, zipweights.reader  # the kernels' users: nothing more said
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["numba"]
    assert r.stderr.count("RuntimeWarning") == 1, r.stderr
    for phrase in ("source tree", str(tree), "C kernels are not built", "Numba kernels",
                   "python setup.py build_ext --inplace", "pip install -e .", "outside the source tree"):
        assert phrase in r.stderr, phrase
    assert "circular import" not in r.stderr


def test_forced_numba_is_silent(tree):
    r = run(tree, "import zipweights._kernels as K; print(K.BACKEND)", {"ZIPWEIGHTS_KERNELS": "numba"})
    assert r.returncode == 0 and r.stdout.split() == ["numba"] and "Warning" not in r.stderr, r.stderr


def test_without_numba_a_clear_error(tree):
    for code in ("import zipweights._kernels", "import zipweights; zipweights.ZipwFile"):
        r = run(tree, NO_NUMBA + code)
        assert r.returncode == 1
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("ImportError: zipweights is imported from its source tree"), r.stderr
        for phrase in (str(tree), "python setup.py build_ext --inplace", "pip install -e .",
                       "pip install numba", "outside the source tree"):
            assert phrase in last, phrase
        assert "circular import" not in r.stderr and "partially initialized" not in r.stderr


def test_forced_c_without_the_build(tree):
    r = run(tree, "import zipweights._kernels", {"ZIPWEIGHTS_KERNELS": "c"})
    assert r.returncode == 1
    assert "ZIPWEIGHTS_KERNELS=c but the C kernels" in r.stderr.strip().splitlines()[-1]
