"""Replay of the fuzzing corpora and regression inputs, in the normal test suite.

C targets (tests/fuzz/fuzz_*.c): each is linked with replay_main.c by gcc under
ASan + UBSan (-fno-sanitize-recover=undefined, LeakSanitizer on), and run over every
file of corpus/<target>/ and regressions/<target>/ on each decoder path: the default
(AVX-512 or AVX2 where the CPU has them), ZW_NO_AVX512=1 and ZW_NO_SIMD=1 (portable C).
A sanitizer report, a failed check or any nonzero exit fails the test. The self-test
proves the driver turns each kind of finding into a failure.

Python targets (tests/fuzz/py/fuzz_*.py): TestOneInput runs in-process on every file
of corpus/py_<name>/ and regressions/py_<name>/ (no atheris needed); anything but a
ZipWeightsError fails. Inputs listed in regressions/OPEN.txt are findings reported but
not yet fixed: they are expected to fail (strict: once fixed, remove their line).

With clang and libFuzzer installed, test_brief_libfuzzer_run also fuzzes each C target
for a bounded number of executions (marker fuzz_brief).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CSRC = ROOT / "csrc"
CORPUS = HERE / "corpus"
REGRESSIONS = HERE / "regressions"
C_TARGETS = sorted(p.stem[len("fuzz_"):] for p in HERE.glob("fuzz_*.c"))
PY_TARGETS = sorted("py_" + p.stem[len("fuzz_"):] for p in (HERE / "py").glob("fuzz_*.py"))
GCC = shutil.which("gcc")
CFLAGS = [
    "-O1", "-g", "-std=c11", "-D_GNU_SOURCE", "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
    f"-I{CSRC}", f"-I{HERE}",
]
PATHS = {"default": {}, "avx2": {"ZW_NO_AVX512": "1"}, "scalar": {"ZW_NO_SIMD": "1"}}
# brief libFuzzer run: executions per target (a few seconds each on a 2-core machine)
BRIEF_RUNS = {"float_struct": 4000, "roundtrip": 1000, "sparse_merge": 10000}


def sanitizer_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ZW_NO_SIMD", "ZW_NO_AVX512")}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:allocator_may_return_null=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env.update(extra)
    return env


def inputs_of(target: str) -> list[Path]:
    files = []
    for d in (CORPUS / target, REGRESSIONS / target):
        if d.is_dir():
            files += sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
    return files


def open_findings() -> dict[str, str]:
    """regressions/OPEN.txt: `<path relative to tests/fuzz>  <what is wrong>` per line."""
    f = REGRESSIONS / "OPEN.txt"
    out = {}
    if f.is_file():
        for line in f.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                path, _, why = line.partition(" ")
                out[path] = why.strip()
    return out


# -- building the replay binaries with gcc ---------------------------------------------
class Builder:
    def __init__(self, out: Path):
        self.out = out
        self.bins: dict[str, Path] = {}
        srcs = [p for p in sorted(CSRC.glob("*.c")) if p.name not in ("module.c", "scratch.c")]
        srcs += [HERE / "scratch_exact.c", HERE / "replay_main.c"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            self.objs = list(pool.map(self._compile, srcs))

    def _compile(self, src: Path) -> Path:
        obj = self.out / (src.stem + ".o")
        run_checked([GCC, *CFLAGS, "-c", str(src), "-o", str(obj)])
        return obj

    def binary(self, target_src: Path) -> Path:
        if target_src not in self.bins:
            exe = self.out / target_src.stem
            run_checked([GCC, *CFLAGS, str(target_src), *map(str, self.objs), "-o", str(exe)])
            self.bins[target_src] = exe
        return self.bins[target_src]


def run_checked(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stderr[-4000:]}"


@pytest.fixture(scope="session")
def builder(tmp_path_factory) -> Builder:
    if GCC is None:
        pytest.skip("gcc is not installed: the C fuzzing corpora cannot be replayed")
    return Builder(tmp_path_factory.mktemp("fuzz-replay"))


def replay(exe: Path, args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env)


def last_input(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("replay: ")]
    return lines[-1] if lines else "(before the first input)"


# -- the C targets -------------------------------------------------------------------
def test_every_c_target_has_a_corpus():
    assert C_TARGETS, "no fuzz_*.c targets found"
    for t in C_TARGETS:
        assert inputs_of(t), f"corpus/{t}/ is empty: the replay of {t} would test nothing"


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("target", C_TARGETS)
def test_c_replay(builder, target, path):
    exe = builder.binary(HERE / f"fuzz_{target}.c")
    files = inputs_of(target)
    dirs = [str(d) for d in (CORPUS / target, REGRESSIONS / target) if d.is_dir()]
    r = replay(exe, dirs, sanitizer_env(**PATHS[path]))
    assert r.returncode == 0, (
        f"fuzz_{target} ({path} path) found a problem at {last_input(r.stderr)}, exit {r.returncode}:\n"
        f"{r.stderr[-6000:]}"
    )
    assert f"replay: {len(files)} inputs, no finding" in r.stdout, r.stdout


# the self-test: each kind of finding makes the driver fail, a plain input does not
SELFTEST = {
    "abort": None,  # killed by SIGABRT
    # ASan's report, or UBSan's object-size check where it sees the allocation first
    "overflow": ("AddressSanitizer: heap-buffer-overflow", "with insufficient space for an object"),
    "ubsan": ("runtime error: signed integer overflow",),
    "leak": ("LeakSanitizer: detected memory leaks",),
}


@pytest.fixture(scope="session")
def selftest_exe(builder) -> Path:
    return builder.binary(HERE / "selftest_target.c")


@pytest.mark.parametrize("marker", sorted(SELFTEST))
def test_replay_driver_detects_findings(selftest_exe, tmp_path, marker):
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "0-plain").write_bytes(b"nothing wrong")
    (d / "1-marker").write_bytes(marker.encode())
    r = replay(selftest_exe, [str(d)], sanitizer_env())
    assert r.returncode != 0, f"marker {marker!r} went unnoticed:\n{r.stdout}\n{r.stderr}"
    assert "1-marker" in last_input(r.stderr)
    if SELFTEST[marker]:
        assert any(m in r.stderr for m in SELFTEST[marker]), r.stderr[-3000:]
    assert "no finding" not in r.stdout


def test_replay_driver_passes_plain_inputs(selftest_exe, tmp_path):
    (tmp_path / "a").write_bytes(b"abort?")  # near-misses of the markers
    (tmp_path / "b").write_bytes(b"")
    r = replay(selftest_exe, [str(tmp_path)], sanitizer_env())
    assert r.returncode == 0 and "replay: 2 inputs, no finding" in r.stdout, r.stderr


# -- the Python targets ----------------------------------------------------------------
def load_py_target(target: str):
    name = target[len("py_"):]
    mod_name = f"zwfuzz_{name}"
    if mod_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(mod_name, HERE / "py" / f"fuzz_{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[mod_name]


def py_cases():
    opened = open_findings()
    cases = []
    for t in PY_TARGETS:
        for f in inputs_of(t):
            rel = f.relative_to(HERE).as_posix()
            marks = [pytest.mark.xfail(strict=True, reason=f"open finding (regressions/OPEN.txt): {opened[rel]}")] \
                if rel in opened else []
            cases.append(pytest.param(t, f, id=rel, marks=marks))
    return cases


def test_every_py_target_has_a_corpus():
    assert PY_TARGETS, "no py/fuzz_*.py targets found"
    for t in PY_TARGETS:
        assert inputs_of(t), f"corpus/{t}/ is empty"


@pytest.mark.parametrize("target, path", py_cases())
def test_py_replay(target, path):
    load_py_target(target).TestOneInput(path.read_bytes())


def test_open_findings_exist():
    """Every line of regressions/OPEN.txt names an input that is replayed."""
    for rel in open_findings():
        assert (HERE / rel).is_file(), f"regressions/OPEN.txt names {rel}, which does not exist"


# -- a brief libFuzzer run, where clang is installed ---------------------------------------
def find_clang() -> str | None:
    for c in ("clang", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"):
        if shutil.which(c):
            return c
    return None


@pytest.mark.fuzz_brief
@pytest.mark.parametrize("target", C_TARGETS)
def test_brief_libfuzzer_run(target, tmp_path_factory):
    clang = find_clang()
    if clang is None:
        pytest.skip("clang is not installed: no libFuzzer run (the corpora are replayed above)")
    out = brief_build(tmp_path_factory, clang)
    work = tmp_path_factory.mktemp(f"brief-{target}")
    dirs = [str(d) for d in (CORPUS / target, REGRESSIONS / target) if d.is_dir()]
    r = subprocess.run(
        [str(out / f"fuzz_{target}"), f"-runs={BRIEF_RUNS.get(target, 20000)}", "-max_len=4096",
         f"-artifact_prefix={work}/", str(work), *dirs],
        capture_output=True, text=True, env=sanitizer_env(),
    )
    assert r.returncode == 0, f"libFuzzer found a problem in {target}:\n{r.stderr[-6000:]}"
    assert "Done " in r.stderr, r.stderr[-2000:]


_BRIEF = {}


def brief_build(tmp_path_factory, clang: str) -> Path:
    if "out" not in _BRIEF:
        out = tmp_path_factory.mktemp("fuzz-brief-bin")
        r = subprocess.run(["sh", str(HERE / "build.sh"), str(out)], capture_output=True, text=True,
                           env=dict(os.environ, CLANG=clang))
        if r.returncode != 0 and ("libclang_rt.fuzzer" in r.stderr or "-lFuzzer" in r.stderr):
            pytest.skip(f"{clang} has no libFuzzer runtime (apt-get install libclang-rt-14-dev)")
        assert r.returncode == 0, r.stderr[-4000:]
        _BRIEF["out"] = out
    return _BRIEF["out"]
