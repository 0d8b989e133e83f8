#!/usr/bin/env bash
# Installs the Debian packages smoe builds against, only those that are missing.
# Safe to run repeatedly; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libdnnl-dev ocl-icd-opencl-dev libxsimd-dev xtl-dev libsentencepiece-dev libzstd-dev
  catch2 libbenchmark-dev nlohmann-json3-dev libcli11-dev libxxhash-dev
  libssl-dev libedit-dev libcpp-httplib-dev
  # Test references only: Python's Jinja2 renders the chat-template corpus, SentencePiece tokenizes it.
  python3 python3-jinja2 python3-sentencepiece
  # smoe-server's end-to-end test talks to it with curl as well as Python's standard library.
  curl
)
# --neon: also the AArch64 cross compiler and qemu-user for the NEON kernel tests.
[ "${1:-}" = "--neon" ] && packages+=(g++-aarch64-linux-gnu qemu-user)
# --fuzz: clang and its sanitizer / libFuzzer runtimes for scripts/fuzz.sh.
[ "${1:-}" = "--fuzz" ] && packages+=(clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
