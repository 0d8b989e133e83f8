#!/usr/bin/env bash
# bench/cgroup_bench.sh: a command within the limit runs; one that allocates past it is
# OOM-killed and reported so; smoe-bench with default options in a limit too small to read the
# file in (reading wants 1 GiB of room beside it) reads the experts on demand into an expert
# cache and runs. Skipped (77) without root or a memory cgroup controller.
# Usage: test_cgroup_bench.sh BUILD_DIR SOURCE_DIR MODEL_DIR
set -uo pipefail
build="$1" source="$2" model="$3"
script="$source/bench/cgroup_bench.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check NAME COMMAND...
  local name="$1"; shift
  if "$@"; then echo "ok: $name"; else echo "FAILED: $name"; failures=$((failures + 1)); fi
}

"$script" --limit 256M -- true 2>"$work/small.txt"
status=$?
[ "$status" -eq 77 ] && { cat "$work/small.txt"; exit 77; }
check "a command within the limit exits 0" test "$status" -eq 0
check "the report names the limit and no OOM kill" grep -q "limited to 268435456 bytes: exit 0, .*OOM kills 0" "$work/small.txt"

"$script" --limit 64M -- /usr/bin/python3 -c "x = bytearray(512 << 20)" 2>"$work/oom.txt"
check "allocating past the limit ends in the OOM killer's 137" test $? -eq 137
check "the report counts the OOM kill" grep -q "exit 137, .*OOM kills 1" "$work/oom.txt"

check "a bad size is refused" bash -c "! '$script' --limit 12X -- true 2>/dev/null"
check "a percentage of a missing file is refused" bash -c "! '$script' --limit 60%:/no/such.smoe -- true 2>/dev/null"

"$build/convert/smoe-convert" "$model" -o "$work/tiny.smoe" --type f32 --quiet || { echo "conversion failed"; exit 1; }
"$script" --limit 384M -- "$build/bench/smoe-bench" -m "$work/tiny.smoe" -p 8 -n 4 -r 1 --json \
  >"$work/bench.json" 2>"$work/bench.txt"
check "smoe-bench runs in a 384 MiB limit" test $? -eq 0
check "and reads the experts on demand instead of reading the file in" grep -q '"weights":"expert cache"' "$work/bench.json"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
