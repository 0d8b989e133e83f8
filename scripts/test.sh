#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test with CTest.
# SMOE_SANITIZE=1 additionally builds with AddressSanitizer + UBSan into build-asan/ and runs
# the bad-input, format and quantization tests there (CI does this as its own step).
# SMOE_NEON=1 also cross-compiles the kernels for AArch64 and runs their tests under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
if [ "${SMOE_SANITIZE:-0}" = "1" ]; then
  SMOE_BUILD_DIR=build-asan SMOE_BUILD_TYPE=Debug bash scripts/build.sh \
    -DSMOE_SANITIZE=address,undefined -DSMOE_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ./build-asan/tests/smoe-tests "[bad_input],[format],[quant],[types],[recipe],[half],[tokenizer],[sampler],[runtime],[ggml]"
fi
if [ "${SMOE_NEON:-0}" = "1" ]; then
  bash scripts/install-deps.sh --neon
  bash scripts/test-neon.sh
fi
