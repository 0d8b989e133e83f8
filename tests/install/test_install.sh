#!/usr/bin/env bash
# Installs the build into a temporary prefix with `cmake --install`, then configures, builds
# and runs a consumer that uses find_package(smoe). Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
source="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/tests/install" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}" "$work/consumer/consumer"
test -x "$work/prefix/bin/smoe-convert"
echo "install: 1 passed, 0 failed"
