#!/usr/bin/env bash
# Two builds of smoe-bench side by side, alternating run by run (a shared machine's speed
# drifts: alternating spreads the drift over both), for a change that must keep speed:
# decode tokens/s and efficiency (the share of the measured read bandwidth), and pp tokens/s,
# as medians over the rounds with the after/before ratio.
#
# Usage: [PROMPT=512] [GEN=64] bench/compare_builds.sh BEFORE_BENCH AFTER_BENCH ROUNDS "THREADS..." MODEL...
#   BEFORE_BENCH / AFTER_BENCH: smoe-bench binaries; a directory "lib" beside one is put on
#   LD_LIBRARY_PATH for it (copy a build's bench/smoe-bench and lib/libsmoe.so* there to keep it).
# Example: bench/compare_builds.sh /tmp/before/smoe-bench build/bench/smoe-bench 3 "1 2" /tmp/synth2-q4.smoe
set -euo pipefail
before="$1" after="$2" rounds="$3" threads="$4"
shift 4
results=$(mktemp)
trap 'rm -f "$results"' EXIT
run() {  # label binary model threads
  local lib
  lib="$(dirname "$2")/lib"
  LD_LIBRARY_PATH="${lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$2" -m "$3" -t "$4" -p "${PROMPT:-512}" -n "${GEN:-64}" -r 3 --json |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(sys.argv[1], sys.argv[2], sys.argv[3], r.get("gen_tokens_per_s", 0), r.get("decode_bandwidth_efficiency", 0), r.get("prompt_tokens_per_s", 0))' \
      "$1" "$(basename "$3")" "$4" >>"$results"
}
for round in $(seq "$rounds"); do
  for model in "$@"; do
    for t in $threads; do
      if [ $((round % 2)) -eq 1 ]; then run before "$before" "$model" "$t"; run after "$after" "$model" "$t"
      else run after "$after" "$model" "$t"; run before "$before" "$model" "$t"; fi
    done
  done
done
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
keys = sorted({(r[1], r[2]) for r in rows})
print(f"{'model':28} {'thr':>3} | {'tg before':>9} {'tg after':>9} {'ratio':>6} | {'eff before':>10} {'eff after':>9} | {'pp before':>9} {'pp after':>9} {'ratio':>6}")
for model, threads in keys:
    def median(label, column):
        return statistics.median(float(r[column]) for r in rows if r[0] == label and (r[1], r[2]) == (model, threads))
    tb, ta = median("before", 3), median("after", 3)
    eb, ea = median("before", 4), median("after", 4)
    pb, pa = median("before", 5), median("after", 5)
    ratio = lambda a, b: a / b if b else float("nan")
    print(f"{model:28} {threads:>3} | {tb:9.2f} {ta:9.2f} {ratio(ta, tb):6.3f} | {eb:10.1%} {ea:9.1%} | {pb:9.1f} {pa:9.1f} {ratio(pa, pb):6.3f}")
PY
