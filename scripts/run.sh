#!/usr/bin/env bash
# The main job: install what is missing, build, convert the bundled tiny Mixtral model to a
# 4-bit container, verify it, and chat with it (interactive on a terminal; from stdin otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
mkdir -p out
./build/convert/smoe-convert tests/data/mixtral-tiny -o out/mixtral-tiny-q4.smoe --type q4
./build/convert/smoe-convert verify out/mixtral-tiny-q4.smoe
if [ -t 0 ]; then
  exec ./build/examples/smoe-chat -m out/mixtral-tiny-q4.smoe "$@"
fi
# Not a terminal (a script or CI): one scripted exchange instead of waiting for input.
printf 'Comment ouvrir un fichier de configuration ?\n/stats\n' | ./build/examples/smoe-chat -m out/mixtral-tiny-q4.smoe -n 48 "$@"
