#!/usr/bin/env bash
# The main job: install what is missing, build, convert the bundled tiny Mixtral model to a
# 4-bit container, then inspect and verify it. (The chat CLI arrives with the runtime.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
mkdir -p out
./build/convert/smoe-convert tests/data/mixtral-tiny -o out/mixtral-tiny-q4.smoe --type q4
./build/convert/smoe-convert inspect out/mixtral-tiny-q4.smoe
./build/convert/smoe-convert verify out/mixtral-tiny-q4.smoe
