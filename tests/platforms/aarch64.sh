#!/usr/bin/env bash
# The portable C path (-DZW_PORTABLE: no SIMD) on aarch64: csrc/*.c but module.c,
# cross-compiled with Debian's gcc-aarch64-linux-gnu with tests/platforms/kernel_driver.c,
# run under qemu-user on cases the C kernels of this machine answered
# (tests/platforms/make_fixtures.py: the golden and error vectors' payloads, real and
# random weights encoded at every level and decoded, cut and flipped payloads, delta,
# byte planes, sparse). Every answer must be the same bytes, or the same error class and
# message. The same driver built for this machine (SIMD on) checks the driver itself.
#
#   apt-get install -y gcc-aarch64-linux-gnu qemu-user     (Debian packages)
#   . .venv/bin/activate && bash tests/platforms/aarch64.sh [WORKDIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cc=aarch64-linux-gnu-gcc
for tool in "$cc" qemu-aarch64; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y gcc-aarch64-linux-gnu qemu-user" >&2; exit 77; }
done
cd "$repo"
srcs=$(ls csrc/*.c | grep -v '/module\.c$')
python tests/platforms/make_fixtures.py "$work/fixtures.bin"
flags=(-O2 -std=c11 -Wall -Werror -Icsrc)
gcc "${flags[@]}" $srcs tests/platforms/kernel_driver.c -o "$work/driver-native" -lpthread
echo "native driver (SIMD as this CPU has):"
"$work/driver-native" "$work/fixtures.bin"
"$cc" "${flags[@]}" -DZW_PORTABLE $srcs tests/platforms/kernel_driver.c -o "$work/driver-aarch64" -lpthread
file "$work/driver-aarch64" 2>/dev/null | cut -d, -f1-2 || true
echo "aarch64 driver (portable C) under qemu-aarch64:"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/driver-aarch64" "$work/fixtures.bin"
echo "aarch64: OK"
