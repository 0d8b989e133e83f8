#!/usr/bin/env bash
# End-to-end checks of bench/compare_quality.sh on the tiny model: smoe's q8 and q4 recipes (q4
# also uncalibrated: a recipe with a flag) and the llama.cpp GGUF files shipped with it, scored
# in one table. Usage:
# test_compare_quality.sh BUILD_DIR TINY_MODEL_DIR
set -uo pipefail
build="$1"
model="$2"
source "$(dirname "$0")/check.sh"
script="$(dirname "$0")/../../bench/compare_quality.sh"

ggufs=()
for file in "$model/mixtral-tiny-q8_0.gguf" "$model/mixtral-tiny-f16.gguf"; do
  [ -f "$file" ] && ggufs+=(--gguf "$file")
done
[ ${#ggufs[@]} -gt 0 ] || { echo "FAILED: no GGUF file in $model"; exit 1; }
# With llama-quantize on PATH the f16 file also yields one row per default --llama-types type
# (Q4_K_M, Q8_0); without it, the f16 file is scored as it is.
expected_rows=$((3 + ${#ggufs[@]} / 2))
if command -v llama-quantize >/dev/null && [ -f "$model/mixtral-tiny-f16.gguf" ]; then
  expected_rows=$((expected_rows + 2))
fi

# The first 8 of the 16 reference windows (256 tokens of int32 each): enough to order q8 and q4,
# half the time. One thread: OpenMP threads that spin against other load slow every run.
head -c $((8 * 256 * 4)) "$model/ppl_windows.i32" >"$work/windows.i32"
args=(--model "$model" --tokens "$work/windows.i32" --recipes q8,q4,q4+no-calibration "${ggufs[@]}" --threads 1 --bin "$build")
OMP_NUM_THREADS=1 "$script" "${args[@]}" --out "$work/table" >"$work/table.md" 2>"$work/table.err"
status=$?
check "compare_quality.sh exits 0" test $status -eq 0
[ $status -eq 0 ] || cat "$work/table.err"
OMP_NUM_THREADS=1 "$script" "${args[@]}" --out "$work/json" --json >"$work/rows.json" 2>"$work/json.err"
status=$?
check "compare_quality.sh --json exits 0" test $status -eq 0
[ $status -eq 0 ] || cat "$work/json.err"
cat "$work/table.md"

check "the table has one row per file, every KLD a number >= 0" python3 - "$work/table.md" "$expected_rows" <<'PY'
import sys
lines = [l for l in open(sys.argv[1]) if l.startswith("| ")][1:]  # the header row off
rows = [[cell.strip() for cell in l.strip().strip("|").split("|")] for l in lines if not l.startswith("|---")]
assert len(rows) == int(sys.argv[2]), (len(rows), rows)
for row in rows:
    assert len(row) == 7, row
    assert float(row[4]) >= 0 and float(row[5]) >= 0, row  # mean KLD, KLD p99
    assert 0 < float(row[2]) <= 32 and float(row[3]) > 0, row  # bits/weight, ppl
PY

check "JSON rows: q8 KLD < q4 KLD, llama.cpp Q8_0 within 3x of smoe q8" python3 - "$work/rows.json" "$expected_rows" <<'PY'
import json, math, sys
rows = {row["file"]: row for row in json.load(open(sys.argv[1]))}
assert len(rows) == int(sys.argv[2]), list(rows)
for row in rows.values():
    assert math.isfinite(row["kld_mean"]) and row["kld_mean"] >= 0, row
    assert 0 <= row["top1_agreement"] <= 1, row
q8, q4 = rows["smoe-q8.smoe"]["kld_mean"], rows["smoe-q4.smoe"]["kld_mean"]
assert q8 < q4, (q8, q4)
assert q8 < rows["smoe-q4+no-calibration.smoe"]["kld_mean"], rows["smoe-q4+no-calibration.smoe"]
llama_q8 = [row["kld_mean"] for name, row in rows.items() if "q8_0" in name.lower()]
assert llama_q8, "no llama.cpp Q8_0 row"
for kld in llama_q8:
    assert kld < q4, (kld, q4)
    assert q8 / 3 <= kld <= 3 * q8, (kld, q8)
PY

check "the table lists the commands used" grep -q -- "--kl-base base.f32" "$work/table.md"

message=$("$script" --model "$model" --tokens "$model/ppl_windows.i32" --bogus 2>&1)
check "an unknown argument exits non-zero" test $? -ne 0
check "naming the argument" grep -q "unknown argument '--bogus'" <<<"$message"
message=$("$script" --model "$model" --tokens "$work/missing.i32" --bin "$build" 2>&1)
check "a missing token file exits non-zero" test $? -ne 0
check "naming the file" grep -q "missing.i32" <<<"$message"
message=$("$script" --model "$model" --tokens "$model/ppl_windows.i32" --recipes q8 --bin "$work/nowhere" 2>&1)
check "missing tools exit non-zero" test $? -ne 0
check "naming smoe-convert" grep -q "smoe-convert not found" <<<"$message"
message=$("$script" --model "$model" --tokens "$model/ppl_windows.i32" --recipes q4+expert-bits=ram=300M --bin "$work/nowhere" 2>&1)
check "a recipe flag with a value passes the recipe check" grep -q "smoe-convert not found" <<<"$message"
message=$("$script" --model "$model" --tokens "$model/ppl_windows.i32" --recipes 'q4+expert-bits=ram=3 G' --bin "$build" 2>&1)
check "a recipe with a space is refused" grep -q "is not a type name" <<<"$message"

finish test_compare_quality
