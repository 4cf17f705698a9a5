#!/bin/sh
# Build the libFuzzer targets: tests/fuzz/build.sh [OUTDIR]   (default tests/fuzz/build)
#   CLANG=clang-14       compiler (clang, clang-18 .. clang-14: the first found)
#   ZW_CSRC=DIR          the csrc/ to build against (default: the working tree's csrc/;
#                        campaign.sh passes a snapshot of the committed csrc/)
# One binary per tests/fuzz/fuzz_*.c, built with -fsanitize=fuzzer,address,undefined
# -fno-sanitize-recover=undefined against csrc/*.c minus module.c (the Python binding)
# and scratch.c (replaced by scratch_exact.c: exact-size buffers, so ASan sees every
# overflow). Speed: the harness files get edge coverage without compare tracing, the
# functions of coverage-ignore.txt no coverage (still ASan/UBSan), and the targets
# whose time goes to whole-chunk loops (float_struct, roundtrip, delta_struct,
# delta_roundtrip) link a copy of the library without compare tracing (it doubled the
# first two's executions per second).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$here/build}
csrc=${ZW_CSRC:-$root/csrc}
if [ -z "${CLANG:-}" ]; then
    for c in clang clang-18 clang-17 clang-16 clang-15 clang-14; do
        if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
    done
fi
[ -n "${CLANG:-}" ] || { echo "build.sh: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 3; }
base="-O1 -g -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -I$csrc -I$here"
cov="-fsanitize=fuzzer-no-link -fsanitize-coverage-ignorelist=$here/coverage-ignore.txt"
mkdir -p "$out/obj" "$out/obj-nocmp"
lib=""
libnc=""
for f in "$csrc"/*.c "$here/scratch_exact.c"; do
    case $(basename "$f") in module.c|scratch.c) continue ;; esac
    o=$(basename "$f" .c).o
    $CLANG $base $cov -c "$f" -o "$out/obj/$o"
    $CLANG $base $cov -fno-sanitize-coverage=trace-cmp -c "$f" -o "$out/obj-nocmp/$o"
    lib="$lib $out/obj/$o"
    libnc="$libnc $out/obj-nocmp/$o"
done
for t in "$here"/fuzz_*.c; do
    name=$(basename "$t" .c)
    $CLANG $base $cov -fno-sanitize-coverage=trace-cmp -c "$t" -o "$out/obj/$name.o"
    case $name in fuzz_float_struct|fuzz_roundtrip|fuzz_delta_struct|fuzz_delta_roundtrip) l=$libnc ;; *) l=$lib ;; esac
    $CLANG $base -fsanitize=fuzzer "$out/obj/$name.o" $l -o "$out/$name"
    echo "built $out/$name"
done
