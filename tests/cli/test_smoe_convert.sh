#!/usr/bin/env bash
# End-to-end checks of the smoe-convert command line: exit codes, messages, JSON output,
# and that an interrupted conversion leaves no file behind.
# Usage: test_smoe_convert.sh SMOE_CONVERT TINY_MODEL_DIR
set -uo pipefail
convert="$1"
model="$2"
source "$(dirname "$0")/check.sh"

# check NAME EXPRESSION JSON: a Python assertion over `inspect --json --tensors` output, with j the
# document and t its tensors by name.
check_tensors() {
  check "$1" python3 -c 'import json,sys; j=json.loads(sys.argv[1]); t={x["name"]: x for x in j["tensor_list"]}; assert '"$2" "$3"
}

"$convert" "$model" -o "$work/tiny-q8.smoe" --type q8 --attn q4 --quiet
check "convert exits 0" test $? -eq 0
check "output exists" test -s "$work/tiny-q8.smoe"
check "no temporary file left" test -z "$(ls "$work" | grep tmp)"

json=$("$convert" inspect "$work/tiny-q8.smoe" --json)
check "inspect --json parses and has config names" \
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); h=j["hyperparameters"]; assert h["hidden_size"]==128 and h["num_local_experts"]==8 and j["tensors"]==128 and j["file_bytes"]>0 and j["recipe"]["groups"]["attn"]=="q4"' "$json"

"$convert" verify "$work/tiny-q8.smoe" >/dev/null
check "verify passes on a good file" test $? -eq 0

# Flip one byte inside the last expert's data: verify must fail and name the tensor.
python3 - "$work/tiny-q8.smoe" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[-200000] ^= 0xFF
open(path, "wb").write(data)
PY
message=$("$convert" verify "$work/tiny-q8.smoe" 2>&1)
status=$?
check "verify fails on a flipped byte" test $status -eq 1
check "verify names the tensor" grep -q "checksum mismatch in tensor" <<<"$message"

# Column panels: --panel-columns narrower than the tiny model's rows.
"$convert" "$model" -o "$work/tiny-panels.smoe" --type q8 --panel-columns 64 --quiet
check "convert --panel-columns exits 0" test $? -eq 0
json=$("$convert" inspect "$work/tiny-panels.smoe" --json --tensors)
check_tensors "inspect shows format version 2 and the panels" \
  'j["format_version"]==2 and j["types"]["q8"]["in_column_panels"]>0 and t["layers.0.experts.0.w2"]["panel_columns"]==64 and t["layers.0.experts.0.w2"]["shape"]==[128,256]' "$json"
"$convert" verify "$work/tiny-panels.smoe" >/dev/null
check "verify passes on a file in panels" test $? -eq 0
check "text inspect names the panels" grep -q "in column panels" <<<"$("$convert" inspect "$work/tiny-panels.smoe")"
json=$("$convert" inspect "$work/tiny-q8.smoe" --json)
check "a file without panels stays version 1" python3 -c 'import json,sys; assert json.loads(sys.argv[1])["format_version"]==1' "$json"

# Interleaved q4k and q8 rows (the default; --no-interleave: plain): with --type q4 (uncalibrated,
# so every expert keeps the recipe's type) the tiny model's w2 (128 x 256) is q4k, its attention q8.
"$convert" "$model" -o "$work/tiny-x8.smoe" --type q4 --no-calibration --quiet
check "convert --type q4 exits 0" test $? -eq 0
json=$("$convert" inspect "$work/tiny-x8.smoe" --json --tensors)
check_tensors "inspect shows the interleaved matrices" \
  't["layers.0.experts.0.w2"]["type"]=="q4k_x8" and t["layers.0.attn.q"]["type"]=="q8_x8" and t["token_embd"]["type"] not in ("q4k_x8", "q8_x8")' "$json"
"$convert" verify "$work/tiny-x8.smoe" >/dev/null
check "verify passes on an interleaved file" test $? -eq 0
"$convert" "$model" -o "$work/tiny-plain.smoe" --type q4 --no-calibration --no-interleave --quiet
json=$("$convert" inspect "$work/tiny-plain.smoe" --json --tensors)
check_tensors "--no-interleave keeps plain q4k and q8 rows" \
  't["layers.0.experts.0.w2"]["type"]=="q4k" and t["layers.0.attn.q"]["type"]=="q8" and "q4k_x8" not in j["types"] and "q8_x8" not in j["types"]' "$json"

message=$("$convert" /no/such/model -o "$work/x.smoe" 2>&1)
check "missing input exits 1" test $? -eq 1
check "missing input is named" grep -q "/no/such/model" <<<"$message"

message=$("$convert" inspect "$model/config.json" 2>&1)
check "inspect of a non-container exits 1" test $? -eq 1
check "inspect names the problem" grep -q "config.json" <<<"$message"

"$convert" --type q3 "$model" -o "$work/x.smoe" >/dev/null 2>&1
check "unknown type exits 1" test $? -eq 1
"$convert" --bogus-flag >/dev/null 2>&1
check "unknown flag is a usage error" test $? -eq 2
check "failed runs leave nothing" test ! -e "$work/x.smoe"

# Calibration and --imatrix: the importance matrix is recorded in the recipe; a bad one is refused.
"$convert" "$model" -o "$work/tiny-f32.smoe" --type f32 --quiet
"$convert" calibrate -m "$work/tiny-f32.smoe" --text "$model/../../../README.md" --max-tokens 600 --window 128 \
  --exclude-tokens "$model/ppl_windows.i32" -o "$work/tiny.imatrix" 2>/dev/null
check "calibrate writes an importance matrix" test -s "$work/tiny.imatrix"
"$convert" "$model" -o "$work/tiny-imatrix.smoe" --type q4 --imatrix "$work/tiny.imatrix" --quiet
json=$("$convert" inspect "$work/tiny-imatrix.smoe" --json)
check "the recipe records the importance matrix" \
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["recipe"]["imatrix"]["file"]=="tiny.imatrix" and 4.5 < j["bits_per_weight"] < 6' "$json"
printf 'garbage' >"$work/bad.imatrix"
message=$("$convert" "$model" -o "$work/x.smoe" --type q4 --imatrix "$work/bad.imatrix" 2>&1)
check "a bad importance matrix is refused by name" grep -q "bad.imatrix" <<<"$message"
# --expert-bits auto: per-expert types recorded in the recipe; it needs an importance matrix.
"$convert" "$model" -o "$work/tiny-auto.smoe" --type q4 --imatrix "$work/tiny.imatrix" --expert-bits auto --quiet
json=$("$convert" inspect "$work/tiny-auto.smoe" --json)
check "expert-bits auto records per-expert types" \
  python3 -c 'import json,sys; r=json.loads(sys.argv[1])["recipe"]; assert r["expert_bits"]=="auto" and len(r["expert_types"])>0' "$json"
message=$("$convert" "$model" -o "$work/x.smoe" --type q4 --no-calibration --expert-bits auto 2>&1)
check "expert-bits auto without calibration or an importance matrix exits 1" test $? -eq 1
check "and says it needs routing counts" grep -q "needs routing counts" <<<"$message"
"$convert" "$model" -o "$work/x.smoe" --expert-bits sometimes >/dev/null 2>&1
check "an unknown --expert-bits value is a usage error" test $? -eq 2
# --expert-bits ram=SIZE: the target and its tiers recorded in the recipe, shown by inspect.
"$convert" "$model" -o "$work/tiny-tiers.smoe" --type q4 --imatrix "$work/tiny.imatrix" --expert-bits ram=270M --quiet
json=$("$convert" inspect "$work/tiny-tiers.smoe" --json)
check "expert-bits ram records the target, the hot experts and the slots" python3 -c '
import json, sys
r = json.loads(sys.argv[1])["recipe"]
tiers = r["expert_tiers"]
assert r["expert_bits"] == "ram=270M" and tiers["ram_bytes"] == 270 << 20, r
assert 0 < tiers["hot_experts"] == tiers["slots"] < tiers["experts"] == 32, tiers
types = [t for layer in r["expert_types"] for t in layer]
assert types.count("q3k") == 32 - tiers["hot_experts"], types' "$json"
check "inspect prints the tiers" grep -q '"expert_tiers"' <<<"$("$convert" inspect "$work/tiny-tiers.smoe")"
message=$("$convert" "$model" -o "$work/x.smoe" --expert-bits ram=12Q 2>&1)
check "a bad --expert-bits size is a usage error" test $? -eq 2
check "naming the size" grep -q "'12Q' in ram=12Q is not a memory size" <<<"$message"
check "no output left behind by refused conversions" test ! -e "$work/x.smoe"
check "nothing written after a refused importance matrix" test ! -e "$work/x.smoe"

# Calibration by default: q4 calibrates on text it samples itself, and says so; a calibration
# text that cannot be read is refused by name before anything is written. One OpenMP thread for
# the runs that calibrate: the tiny model's small products spin two threads against other tests.
message=$(OMP_NUM_THREADS=1 "$convert" "$model" -o "$work/tiny-calibrated.smoe" --type q4 2>&1)
check "a default q4 conversion exits 0" test $? -eq 0
check "and reports its calibration and cost" grep -q "calibrated on self-generated, .* q8 copy .* s, statistics .* s" <<<"$message"
check "inspect shows the calibration" grep -q "^calibration *self-generated, [0-9]* tokens, seed 1" \
  <<<"$("$convert" inspect "$work/tiny-calibrated.smoe")"
check "no calibration copy left behind" test -z "$(ls "$work" | grep calibration-q8)"
check "inspect shows GPTQ rounding" grep -q "^rounding *gptq" <<<"$("$convert" inspect "$work/tiny-calibrated.smoe")"
"$convert" "$model" -o "$work/x.smoe" --type q4 --no-calibration --rounding gptq >/dev/null 2>&1
check "--rounding gptq without calibration exits 1" test $? -eq 1
"$convert" "$model" -o "$work/x.smoe" --type q4 --rounding sometimes >/dev/null 2>&1
check "an unknown --rounding value is a usage error" test $? -eq 2
message=$("$convert" "$model" -o "$work/x.smoe" --type q4 --calibration-text "$work/missing.txt" 2>&1)
check "an unreadable --calibration-text exits 1" test $? -eq 1
check "naming the file" grep -q "missing.txt" <<<"$message"
check "and leaves no output" test -z "$(ls "$work" | grep '^x\.smoe')"
"$convert" "$model" -o "$work/x.smoe" --type q4 --no-calibration --calibration-text "$work/missing.txt" >/dev/null 2>&1
check "--no-calibration with --calibration-text is a usage error" test $? -eq 2

# interrupt_after SECONDS SIGNAL WHAT: starts a q4 conversion, signals it after SECONDS; either it
# finished first (a valid file) or nothing is left, its calibration copy included.
interrupt_after() {
  rm -f "$work/interrupted.smoe"
  OMP_NUM_THREADS=1 "$convert" "$model" -o "$work/interrupted.smoe" --type q4 --quiet &
  local pid=$!
  sleep "$1"
  kill "-$2" "$pid" 2>/dev/null
  wait "$pid"
  if [ $? -eq 0 ]; then
    check "an uninterrupted run ($3) is valid" "$convert" verify "$work/interrupted.smoe" >/dev/null
  else
    check "a run interrupted $3 leaves no file" test -z "$(ls "$work" | grep interrupted)"
  fi
}
interrupt_after 0.15 INT "early"
interrupt_after 0.6 TERM "while calibrating"

# Output that cannot be written (here past a file size limit, which would otherwise kill the
# process and leave its temporary file): a message naming the file, exit 1, nothing left behind.
message=$( (ulimit -f 64; "$convert" "$model" -o "$work/limited.smoe" --type q8 --quiet) 2>&1)
status=$?
check "a failing write exits 1" test $status -eq 1
check "and names the output and the failure" grep -q "limited.smoe: .*File too large" <<<"$message"
check "and leaves no file" test -z "$(ls "$work" | grep limited)"

# Other input formats: GGUF is detected by its magic; --type keep keeps Q8_0 blocks as q8.
"$convert" "$model/mixtral-tiny-q8_0.gguf" -o "$work/gguf-keep.smoe" --type keep --quiet
check "a GGUF file converts with --type keep" test $? -eq 0
json=$("$convert" inspect "$work/gguf-keep.smoe" --json)
check "and records its source format and recipe" \
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["recipe"]["type"]=="keep" and 8.4 < j["bits_per_weight"] < 8.6' "$json"
"$convert" "$model/mixtral-tiny-q8_0.gguf" -o "$work/x.smoe" --from mistral >/dev/null 2>&1
check "--from naming the wrong format fails with exit 1" test $? -eq 1
"$convert" "$model/mixtral-tiny-q8_0.gguf" -o "$work/x.smoe" --from safetensors >/dev/null 2>&1
check "an unknown --from is a usage error" test $? -eq 2
head -c 1000 "$model/mixtral-tiny-q8_0.gguf" >"$work/truncated.gguf"
message=$("$convert" "$work/truncated.gguf" -o "$work/x.smoe" 2>&1)
check "a truncated GGUF exits 1" test $? -eq 1
check "naming the file" grep -q "truncated.gguf" <<<"$message"
mkdir -p "$work/mistral" && echo '{"dim": 128}' >"$work/mistral/params.json"
message=$("$convert" "$work/mistral" -o "$work/x.smoe" 2>&1)
check "a Mistral directory without a moe section is refused" grep -q "moe" <<<"$message"
check "no output left behind by refused imports" test ! -e "$work/x.smoe"

finish "smoe-convert CLI"
