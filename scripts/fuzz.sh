#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan) into build-fuzz/ and runs
# each for SMOE_FUZZ_SECONDS (default 60) from seed corpora made of the test data. Fails on
# any crash, leak or sanitizer report; the input that caused it is left in build-fuzz/crashes/
# (add it to tests/data/fuzz-regressions/ and a test when fixing it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SMOE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${SMOE_FUZZ_SECONDS:-60}"
bash "$root/scripts/install-deps.sh" --fuzz
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSMOE_BUILD_FUZZ=ON -DSMOE_SANITIZE=address,undefined -DSMOE_BUILD_TESTS=OFF -DSMOE_BUILD_BENCH=OFF >/dev/null
targets=(container safetensors gguf config tokenizer chat_template openai_request)
ninja -C "$build" "${targets[@]/#/fuzz_}" smoe-convert

# Seed corpora from the test data.
tiny="$root/tests/data/mixtral-tiny"
seeds="$build/seeds"
rm -rf "$seeds" && mkdir -p "$seeds"/{container,safetensors,gguf,config,tokenizer,chat_template,openai_request}
"$build/convert/smoe-convert" "$tiny" -o "$seeds/container/tiny-q4.smoe" --type q4 --quiet --no-source-hash
python3 - "$seeds" "$tiny" <<'PY'
import json, struct, sys, pathlib
seeds, tiny = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]}}).encode()
(seeds / "safetensors/small.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(24))
(seeds / "config/hf.json").write_bytes(b"\0" + (tiny / "config.json").read_bytes())
params = {"dim": 128, "n_layers": 4, "head_dim": 16, "hidden_dim": 256, "n_heads": 8, "n_kv_heads": 2,
          "norm_eps": 1e-5, "vocab_size": 4096, "rope_theta": 1e6, "moe": {"num_experts": 8, "num_experts_per_tok": 2}}
(seeds / "config/mistral.json").write_bytes(b"\1" + json.dumps(params).encode())
lines = [l for l in open(tiny / "../../../README.md", encoding="utf-8").read().splitlines() if l.strip()][:40]
for i, line in enumerate(lines):
    (seeds / f"tokenizer/line{i}.txt").write_text(line, encoding="utf-8")
template = json.load(open(tiny / "tokenizer_config.json"))["chat_template"]
(seeds / "chat_template/mistral").write_bytes(template.encode() + b"\0user\0Hello\0assistant\0Hi!\0user\0Bye")
(seeds / "chat_template/system").write_bytes(template.encode() + b"\0system\0Be brief.\0user\0Hello")
chat = {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [
    {"type": "text", "text": "Hi"}]}, {"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi",
    "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]}, {"role": "tool",
    "tool_call_id": "abcdefghi", "content": "2"}], "temperature": 0.5, "top_k": 3, "stop": ["a", "b"],
    "stream": True, "stream_options": {"include_usage": True}, "tools": [{"type": "function", "function": {"name": "f"}}]}
(seeds / "openai_request/chat").write_bytes(b"\1" + json.dumps(chat).encode())
(seeds / "openai_request/completion").write_bytes(b"\0" + json.dumps({"prompt": ["Once"], "max_tokens": 4, "seed": 7}).encode())
(seeds / "openai_request/tool_calls").write_bytes(b"\0" + b'[TOOL_CALLS][{"name": "f", "arguments": {"x": 1}}]')
(seeds / "openai_request/hermes").write_bytes(b"\0" + b'Sure. <tool_call>{"name": "f", "arguments": {}}</tool_call>')
for path in sorted((tiny / "../chat_templates").glob("*.jinja")):  # the real templates of released models
    (seeds / f"chat_template/{path.stem}").write_bytes(path.read_bytes() + b"\0system\0Be brief.\0user\0Hello\0assistant\0Hi")
PY
head -c 65536 "$tiny/mixtral-tiny-q8_0.gguf" >"$seeds/gguf/tiny-q8_0-head.gguf"
cp "$tiny/mixtral-tiny-q8_0.gguf" "$seeds/gguf/"

mkdir -p "$build/crashes"
status=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  echo "== fuzz_$target for ${seconds}s"
  log="$build/fuzz_$target.log"
  cd "$build/crashes"
  set +e
  ASAN_OPTIONS=detect_leaks=1 "$build/fuzz/fuzz_$target" "$corpus" "$seeds/$target" -max_total_time="$seconds" \
    -max_len=5000000 -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 -artifact_prefix="$build/crashes/$target-" \
    >"$log" 2>&1
  result=$?
  set -e
  cd "$root"
  grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|ERROR|SUMMARY" "$log" | head -5
  if [ $result -ne 0 ] || ls "$build/crashes/$target-"* >/dev/null 2>&1; then
    echo "fuzz_$target: FAILED (exit $result; log $log; inputs in $build/crashes)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
