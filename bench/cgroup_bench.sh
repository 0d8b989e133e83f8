#!/usr/bin/env bash
# Runs a command inside a memory cgroup of a given size, as a laptop with less RAM or a
# container's limit would have it, and says what the limit did: exit status, peak memory, and
# whether the kernel's OOM killer fired. For smoe-bench under a memory limit
# (docs/PERFORMANCE.md), and llama.cpp's llama-bench beside it with --llama.
#
# Usage: bench/cgroup_bench.sh --limit SIZE [--drop-caches] [--llama GGUF] -- COMMAND [ARGS...]
#   SIZE: bytes, with K, M or G (1024-based), or P% of a file: 60%:/path/model.smoe
#   --drop-caches: sync and drop the page cache first (pages cached outside the cgroup are
#     charged elsewhere, so a warm cache would flatter the limit)
#   --llama GGUF: also runs `llama-bench -m GGUF -p 0 -n 16` in a cgroup of the same size, when
#     llama-bench is on PATH
# Needs root and a memory controller (cgroup v2's memory.max or v1's memory.limit_in_bytes);
# without them it says so and exits 77 (the test suite's "skipped"). Exits with the command's
# status (137 when the OOM killer ended it).
set -euo pipefail
limit="" drop=0 llama=""
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --drop-caches) drop=1; shift ;;
    --llama) llama="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "cgroup_bench: unknown option $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
[ -n "$limit" ] && [ $# -gt 0 ] || { echo "cgroup_bench: usage: $0 --limit SIZE [--drop-caches] [--llama GGUF] -- COMMAND..." >&2; exit 2; }

bytes_of() {  # SIZE -> bytes
  local size="$1"
  if [[ "$size" =~ ^([0-9]+)%:(.+)$ ]]; then
    local file="${BASH_REMATCH[2]}"
    [ -f "$file" ] || { echo "cgroup_bench: $file: no such file (for --limit $size)" >&2; exit 2; }
    echo $(( $(stat -c %s "$file") * BASH_REMATCH[1] / 100 ))
  elif [[ "$size" =~ ^([0-9]+)([KkMmGg]?)$ ]]; then
    local n="${BASH_REMATCH[1]}"
    case "${BASH_REMATCH[2]}" in
      K|k) echo $(( n << 10 )) ;; M|m) echo $(( n << 20 )) ;; G|g) echo $(( n << 30 )) ;; *) echo "$n" ;;
    esac
  else
    echo "cgroup_bench: --limit $size is not a size (bytes, K, M, G, or P%:FILE)" >&2; exit 2
  fi
}
limit_bytes=$(bytes_of "$limit")

if [ "$(id -u)" -ne 0 ]; then
  echo "cgroup_bench: needs root to create a memory cgroup (run it with sudo); not run" >&2
  exit 77
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
  version=2 base=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  version=1 base=/sys/fs/cgroup/memory
else
  echo "cgroup_bench: no memory cgroup controller here (neither cgroup v2 nor v1's memory); not run" >&2
  exit 77
fi

# run_limited NAME COMMAND...: the command in a fresh cgroup; prints the report, returns its status.
run_limited() {
  local name="$1"; shift
  local group="$base/smoe-bench-$$-$name"
  mkdir "$group" 2>/dev/null || { echo "cgroup_bench: cannot create $group (a read-only cgroup tree?); not run" >&2; return 77; }
  local limit_file="$group/memory.limit_in_bytes"
  [ "$version" = 2 ] && limit_file="$group/memory.max"
  if ! { echo "$limit_bytes" >"$limit_file"; } 2>/dev/null; then
    echo "cgroup_bench: cannot set $limit_file (the memory controller is not delegated here); not run" >&2
    rmdir "$group" 2>/dev/null
    return 77
  fi
  if [ "$version" = 2 ] && [ -f "$group/memory.swap.max" ]; then echo 0 >"$group/memory.swap.max" 2>/dev/null || true; fi
  [ "$drop" = 1 ] && { sync; echo 3 >/proc/sys/vm/drop_caches; }
  local status=0
  # A process that cannot join the cgroup must not run outside it: 77, not run.
  bash -c 'echo $$ > "$1/cgroup.procs" 2>/dev/null || exit 77; shift; exec "$@"' cgroup_bench "$group" "$@" ||
    status=$?
  local peak="unknown" oom=0
  if [ "$version" = 2 ]; then
    [ -f "$group/memory.peak" ] && peak=$(cat "$group/memory.peak")
    oom=$(awk '$1 == "oom_kill" {print $2}' "$group/memory.events")
  else
    peak=$(cat "$group/memory.max_usage_in_bytes")
    oom=$(awk '$1 == "oom_kill" {print $2}' "$group/memory.oom_control")
  fi
  echo "cgroup_bench: $name in a cgroup v$version limited to $limit_bytes bytes: exit $status, peak $peak bytes, OOM kills ${oom:-0}" >&2
  rmdir "$group" 2>/dev/null || true
  return "$status"
}

status=0
run_limited command "$@" || status=$?
# 77 from joining or limiting (or from the command itself: then it said so) means not run.
if [ -n "$llama" ]; then
  if command -v llama-bench >/dev/null; then
    run_limited llama-bench llama-bench -m "$llama" -p 0 -n 16 || true
  else
    echo "cgroup_bench: llama-bench is not on PATH: llama.cpp not run" >&2
  fi
fi
exit "$status"
