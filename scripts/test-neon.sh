#!/usr/bin/env bash
# Cross-compiles the block formats and their kernels for AArch64 and runs their tests under
# qemu-user: once on a CPU with the dot-product extension (both NEON tables are tested against
# the scalar references) and once on a Cortex-A53 (baseline NEON only).
# Needs Debian's g++-aarch64-linux-gnu and qemu-user (scripts/install-deps.sh --neon).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SMOE_NEON_BUILD_DIR:-$root/build-neon}"
cmake -S "$root/tests/neon" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" >/dev/null
ninja -C "$build" smoe-kernel-tests
for cpu in max cortex-a53; do
  echo "== qemu-aarch64 -cpu $cpu"
  QEMU_CPU=$cpu qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/smoe-kernel-tests" "[kernels],[quant],[half]"
done
