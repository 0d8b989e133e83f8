#!/usr/bin/env bash
# End-to-end checks of smoe-chat, smoe-perplexity and the embedding example against the tiny
# model's reference files. Usage: test_runtime_tools.sh BUILD_DIR TINY_MODEL_DIR
set -uo pipefail
build="$1"
model="$2"
source "$(dirname "$0")/check.sh"

"$build/convert/smoe-convert" "$model" -o "$work/tiny.smoe" --type f32 --quiet || { echo "conversion failed"; exit 1; }

prompt=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompts"][0]["text"], end="")' "$model/reference.json")
out=$("$build/examples/smoe-chat" -m "$work/tiny.smoe" -p "$prompt" -n 32 --greedy --raw --json --kv f32)
check "smoe-chat --json greedy ids match the reference" python3 -c '
import json, sys
out = json.loads(sys.argv[1]); ref = json.load(open(sys.argv[2]))["prompts"][0]
assert out["prompt_ids"] == ref["ids"], out["prompt_ids"]
assert out["generated_ids"] == ref["greedy_ids"], out["generated_ids"]
assert out["gen_tokens_per_s"] > 0 and out["prompt_tokens_per_s"] > 0' "$out" "$model/reference.json"

ids=$("$build/examples/smoe-chat" -m "$work/tiny.smoe" --tokenize "$prompt")
check "smoe-chat --tokenize prints the reference ids" python3 -c '
import json, sys
assert json.loads(sys.argv[1]) == json.load(open(sys.argv[2]))["prompts"][0]["ids"]' "$ids" "$model/reference.json"

chat=$(printf 'Bonjour\n/stats\n/reset\nHallo\n/quit\n' | "$build/examples/smoe-chat" -m "$work/tiny.smoe" -n 8 --seed 1 2>&1)
check "interactive chat answers, shows stats and quits" test $? -eq 0
check "interactive /stats shows expert usage" grep -q "expert selections" <<<"$chat"
check "interactive /reset starts over" grep -q "new conversation" <<<"$chat"

# --session: a conversation saved after one answer and resumed answers exactly as one that
# never stopped (same seed, sampling on).
chat_cmd=("$build/examples/smoe-chat" -m "$work/tiny.smoe" -n 12 --seed 3 --temp 0.9)
printf 'Bonjour\nHallo\n' | "${chat_cmd[@]}" --session "$work/whole.session" >"$work/whole.out" 2>/dev/null
printf 'Bonjour\n' | "${chat_cmd[@]}" --session "$work/split.session" >"$work/first.out" 2>/dev/null
printf 'Hallo\n' | "${chat_cmd[@]}" --session "$work/split.session" >"$work/second.out" 2>"$work/second.err"
check "--session resumes the saved conversation" grep -q "resumed 2 messages" "$work/second.err"
cat "$work/first.out" "$work/second.out" >"$work/split.out"
check "a resumed chat answers exactly as an uninterrupted one" cmp -s "$work/whole.out" "$work/split.out"
printf 'garbage' >"$work/bad.session"
message=$(printf 'Hallo\n' | "${chat_cmd[@]}" --session "$work/bad.session" 2>&1)
check "a damaged session file exits 1" test $? -eq 1
check "naming the file" grep -q "bad.session" <<<"$message"

# Context shifting: a small context keeps chatting by dropping the oldest turns.
shift_out=$(printf 'one two three four five six\nseven eight nine ten\neleven twelve thirteen\nfourteen fifteen\nsixteen\n' |
  "$build/examples/smoe-chat" -m "$work/tiny.smoe" -c 64 -n 12 --seed 1 2>&1)
check "a full context drops the oldest turns and goes on" grep -q "dropped the" <<<"$shift_out"
check "without an error" test "$(grep -c "error" <<<"$shift_out")" -eq 0

ppl=$("$build/bench/smoe-perplexity" -m "$work/tiny.smoe" --tokens "$model/ppl_windows.i32" --window 256 --kv f32 --json | tail -1)
check "smoe-perplexity within 0.1% of the reference" python3 -c '
import json, sys
out = json.loads(sys.argv[1]); ref = json.load(open(sys.argv[2]))["perplexity"]
assert abs(out["ppl"] / ref["ppl"] - 1) < 1e-3, (out, ref)
assert out["tokens"] == ref["scored_tokens"]' "$ppl" "$model/reference.json"

"$build/convert/smoe-convert" "$model" -o "$work/tiny-q8.smoe" --type q8 --quiet
self=$("$build/bench/smoe-perplexity" -m "$work/tiny.smoe" --tokens "$model/ppl_windows.i32" --kv f32 --save-logits "$work/base.f32" --kl-base "$work/tiny.smoe" --json | tail -1)
check "KL divergence of a model to itself is 0 with full top-1 agreement" python3 -c '
import json, sys
out = json.loads(sys.argv[1])
assert out["kld_mean"] < 1e-9 and out["top1_agreement"] == 1.0, out' "$self"
q8=$("$build/bench/smoe-perplexity" -m "$work/tiny-q8.smoe" --tokens "$model/ppl_windows.i32" --kv f32 --kl-base "$work/base.f32" --json | tail -1)
check "q8 is close to f32: small KL divergence, high top-1 agreement" python3 -c '
import json, sys
out = json.loads(sys.argv[1])
assert 0 < out["kld_mean"] < 0.005 and out["kld_p99"] >= out["kld_mean"] and out["top1_agreement"] > 0.95, out' "$q8"
message=$("$build/bench/smoe-perplexity" -m "$work/tiny.smoe" --tokens "$model/ppl_windows.i32" --window 128 --kl-base "$work/base.f32" 2>&1)
check "saved logits of other windows are refused" grep -q "these windows need" <<<"$message"

embed=$("$build/examples/smoe-embed-example" "$work/tiny.smoe" "What is a file?")
check "the embedding example runs" test $? -eq 0
check "the embedding example prints tokens/s" grep -q "tokens/s" <<<"$embed"

message=$("$build/examples/smoe-chat" -m "$work/missing.smoe" -p hi 2>&1)
check "smoe-chat on a missing file exits 1" test $? -eq 1
check "smoe-chat names the missing file" grep -q "missing.smoe" <<<"$message"
printf 'abc' >"$work/odd.i32"
message=$("$build/bench/smoe-perplexity" -m "$work/tiny.smoe" --tokens "$work/odd.i32" 2>&1)
check "smoe-perplexity refuses a token file of odd size" test $? -eq 1
check "smoe-perplexity names the token file" grep -q "odd.i32" <<<"$message"
"$build/examples/smoe-chat" -m "$work/tiny.smoe" -p hi -n 0 >/dev/null 2>&1
check "-n 0 is a usage error" test $? -eq 2

# The prompt path is named; SMOE_PROMPT=bf16 keeps oneDNN's.
verbose=$("$build/examples/smoe-chat" -m "$work/tiny.smoe" -p hi -n 1 --verbose 2>&1 >/dev/null)
check "smoe-chat --verbose names the prompt products" \
  grep -Eq 'prompt products (int8 \((amx|avx512-vnni|avx2-vnni|avx2)\)|bf16 \(oneDNN\)|f32 \(oneDNN\))' <<<"$verbose"
verbose=$(SMOE_PROMPT=bf16 "$build/examples/smoe-chat" -m "$work/tiny.smoe" -p hi -n 1 --verbose 2>&1 >/dev/null)
check "SMOE_PROMPT=bf16 keeps oneDNN's prompt products" grep -Eq 'prompt products (bf16|f32) \(oneDNN\)' <<<"$verbose"

# smoe-bench with a backend (the reference plugin: the plugin path without a GPU): it reports
# the device's share of expert bytes and of expert runs, and steps where both sides ran.
bench=$(SMOE_PLUGIN_PATH="$build/tests" "$build/bench/smoe-bench" -m "$work/tiny.smoe" -p 16 -n 16 -t 1 -r 1 \
        --gpu-mem 1M --backend reference --json)
check "smoe-bench --gpu-mem reports the hit rate above the byte share, with concurrent steps" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert "reference" in r["backend"], r
assert 0 < r["device_expert_byte_share"] < 1, r
assert r["device_hit_rate"] > r["device_expert_byte_share"], r
assert r["device_concurrent_steps"] > 0, r' "$bench"
check "smoe-bench reports the weight bytes by stored type" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
types = r["weight_bytes_by_type"]
assert set(types) == {"f32"}, types  # the f32 container
assert 0 < types["f32"] < r["file_bytes"], r' "$bench"

finish "runtime tools"
