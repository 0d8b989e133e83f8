#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test with CTest.
# SMOE_SANITIZE=1 additionally builds with AddressSanitizer + UBSan into build-asan/ and runs
# the whole Catch2 suite there, and builds with ThreadSanitizer into build-tsan/ for the
# concurrency tests (CI does both as their own steps).
# SMOE_NEON=1 also cross-compiles the kernels for AArch64 and runs their tests under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
if [ "${SMOE_SANITIZE:-0}" = "1" ]; then
  SMOE_BUILD_DIR=build-asan SMOE_BUILD_TYPE=Debug bash scripts/build.sh \
    -DSMOE_SANITIZE=address,undefined -DSMOE_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ./build-asan/tests/smoe-tests
  # Sessions on many threads sharing one model, and prompt-cache snapshots restored from many
  # threads. libgomp is not instrumented, so TSan cannot see its barriers: OpenMP runs with one
  # thread here (OMP_NUM_THREADS=1) and the host-OpenMP test is left out; the races this step
  # looks for are between the application's threads.
  SMOE_BUILD_DIR=build-tsan SMOE_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
    -DSMOE_SANITIZE=thread -DSMOE_BUILD_BENCH=OFF
  OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 ./build-tsan/tests/smoe-tests "[threads]~[openmp]"
fi
if [ "${SMOE_FUZZ:-0}" = "1" ]; then
  SMOE_FUZZ_SECONDS="${SMOE_FUZZ_SECONDS:-30}" bash scripts/fuzz.sh
fi
if [ "${SMOE_NEON:-0}" = "1" ]; then
  bash scripts/install-deps.sh --neon
  bash scripts/test-neon.sh
fi
