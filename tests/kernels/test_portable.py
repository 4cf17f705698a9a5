"""The non-x86 build (csrc/avx2.c's portable branch: scalar paths only) compiles and
passes the kernel tests. ZW_PORTABLE selects that branch on this x86 machine, so a
platform without AVX2 is not first met on a user's machine."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_portable_build_passes_the_kernel_tests(tmp_path):
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    pkg = tmp_path / "zipweights"
    shutil.copytree(ROOT / "zipweights", pkg, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    so = pkg / ("_ckernels" + sysconfig.get_config_var("EXT_SUFFIX"))
    build = [cc, "-O1", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror", "-DZW_PORTABLE",
             f"-I{ROOT / 'csrc'}", f"-I{sysconfig.get_paths()['include']}",
             *sorted(str(p) for p in (ROOT / "csrc").glob("*.c")), "-o", str(so)]
    r = subprocess.run(build, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, PYTHONPATH=str(tmp_path), ZIPWEIGHTS_KERNELS="c")
    # the tests run on that copy: checked inside the same process that runs them
    script = (
        "import sys, pytest, zipweights._ckernels as k\n"
        f"assert k.__file__ == {str(so)!r}, k.__file__\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(ROOT / 'tests' / 'kernels' / 'test_kernels.py')!r}]))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
