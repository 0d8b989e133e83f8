#!/usr/bin/env bash
# Quantization-quality table (docs/QUANTIZATION.md): converts a model to each type and recipe,
# then reports bits per weight, size, perplexity over its reference windows and KL divergence
# against the f32 container (both with an f32 KV cache, so only the weights differ).
# A type written TYPE+imatrix is converted with an importance matrix calibrated on
# CALIBRATION_TEXT (default ../shared/fixtures/eval.txt) minus the lines in the windows;
# TYPE+imatrix+auto also passes --expert-bits auto (per-expert types from routing counts).
# Plain q4, q4k and q3k calibrate on self-generated text (the converter's default);
# TYPE+nocal passes --no-calibration.
# Usage: bench/quant_quality.sh MODEL_DIR [BUILD_DIR] [TYPES...]
set -euo pipefail
model="$1"
build="${2:-build}"
shift $(( $# >= 2 ? 2 : 1 ))
types=("$@")
[ ${#types[@]} -eq 0 ] && types=(f16 bf16 q8 q4k q4)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
windows="$model/ppl_windows.i32"
convert="$build/convert/smoe-convert"
perplexity="$build/bench/smoe-perplexity"

"$convert" "$model" -o "$work/f32.smoe" --type f32 --quiet --no-source-hash
base=$("$perplexity" -m "$work/f32.smoe" --tokens "$windows" --kv f32 --save-logits "$work/base.f32" --json | tail -1)
base_ppl=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ppl"])' "$base")
bpw=$("$convert" inspect "$work/f32.smoe" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bits_per_weight"])')
printf '| type | bits/weight | file MiB | PPL | ΔPPL | mean KLD | p99 KLD | top-1 |\n|---|---|---|---|---|---|---|---|\n'
printf '| f32 | %.2f | %.1f | %.4f | — | — | — | — |\n' "$bpw" "$(python3 -c "import os; print(os.path.getsize('$work/f32.smoe') / 2**20)")" "$base_ppl"
calibration_text="${CALIBRATION_TEXT:-$(dirname "$0")/../../shared/fixtures/eval.txt}"
for type in "${types[@]}"; do
  extra=()
  if [[ "$type" == *+imatrix* ]]; then
    if [ ! -f "$work/calibration.imatrix" ]; then
      "$convert" calibrate -m "$work/f32.smoe" --text "$calibration_text" --exclude-tokens "$windows" \
        --max-tokens "${CALIBRATION_TOKENS:-16384}" -o "$work/calibration.imatrix" 2>/dev/null
    fi
    extra=(--imatrix "$work/calibration.imatrix")
  fi
  [[ "$type" == *+auto ]] && extra+=(--expert-bits auto)
  [[ "$type" == *+nocal ]] && extra+=(--no-calibration)
  "$convert" "$model" -o "$work/$type.smoe" --type "${type%%+*}" "${extra[@]}" --quiet --no-source-hash
  result=$("$perplexity" -m "$work/$type.smoe" --tokens "$windows" --kv f32 --kl-base "$work/base.f32" --json | tail -1)
  info=$("$convert" inspect "$work/$type.smoe" --json)
  python3 - "$type" "$result" "$info" "$base_ppl" <<'PY'
import json, sys
kind, result, info, base = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4])
print("| %s | %.2f | %.1f | %.4f | %+.4f | %.5f | %.4f | %.2f%% |" % (
    kind, info["bits_per_weight"], info["file_bytes"] / 2**20, result["ppl"], result["ppl"] - base,
    result["kld_mean"], result["kld_p99"], 100 * result["top1_agreement"]))
PY
done
