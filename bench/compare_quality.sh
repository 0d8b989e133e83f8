#!/usr/bin/env bash
# One table of quantization quality: smoe's recipes and llama.cpp's types side by side, all
# imported into .smoe containers and scored by the same tool (smoe-perplexity) against the same
# f32 base on the same windows, so the columns compare (docs/QUANTIZATION.md, "Side by side
# with llama.cpp").
#
#   bench/compare_quality.sh --model HF_DIR_OR_F32_SOURCE --tokens WINDOWS.i32
#       [--gguf FILE.gguf ...] [--llama-types Q4_K_M,Q8_0] [--recipes q8,q4,q4k,q3k]
#       [--imatrix F] [--window N] [--threads N] [--out DIR] [--keep] [--bin BUILD_DIR] [--json]
#
# smoe rows: `smoe-convert MODEL --type R` for each recipe (with --imatrix F when given); a
# recipe may carry converter flags after +, e.g. q4+no-calibration (`--type q4 --no-calibration`),
# with a value after = (q4+rounding=nearest: `--type q4 --rounding=nearest`; q4+expert-bits=ram=300M:
# `--type q4 --expert-bits=ram=300M`).
# llama.cpp rows: each --gguf file already quantized is imported as is (`--type keep`: its blocks
# kept bit for bit; smoe's notes about types it requantizes become the row's remark); an f16/f32
# GGUF is imported as is too and, when llama-quantize is on PATH, first quantized to each
# --llama-types type. The base is `smoe-convert MODEL --type f32`; its logits are saved once
# (`--save-logits`) and every file is scored against them, as `--kl-base f32.smoe` would score
# it, without running the base model again for each file.
set -euo pipefail

me=compare_quality.sh
usage() {
  cat >&2 <<'EOF'
usage: bench/compare_quality.sh --model HF_DIR_OR_F32_SOURCE --tokens WINDOWS.i32
    [--gguf FILE.gguf ...] [--llama-types Q4_K_M,Q8_0] [--recipes q8,q4,q4k,q3k]
    [--imatrix F] [--window N] [--threads N] [--out DIR] [--keep] [--bin BUILD_DIR] [--json]
EOF
}
fail() {  # fail STATUS MESSAGE: the message on stderr, then exit STATUS
  echo "$me: $2" >&2
  exit "$1"
}

model="" tokens="" imatrix="" out="" keep=0 json=0 window=256 threads=0
ggufs=()
recipes_list="q8,q4,q4k,q3k"
llama_types_list="Q4_K_M,Q8_0"
llama_types_given=0
bin="$(cd "$(dirname "$0")/.." && pwd)/build"

while [ $# -gt 0 ]; do
  case "$1" in
    --model | --tokens | --gguf | --llama-types | --recipes | --imatrix | --out | --bin | --window | --threads)
      [ $# -ge 2 ] || { usage; fail 2 "$1 needs a value"; }
      case "$1" in
        --model) model="$2" ;;
        --tokens) tokens="$2" ;;
        --gguf) ggufs+=("$2") ;;
        --llama-types) llama_types_list="$2" llama_types_given=1 ;;
        --recipes) recipes_list="$2" ;;
        --imatrix) imatrix="$2" ;;
        --out) out="$2" ;;
        --bin) bin="$2" ;;
        --window) window="$2" ;;
        --threads) threads="$2" ;;
      esac
      shift 2 ;;
    --keep) keep=1; shift ;;
    --json) json=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage; fail 2 "unknown argument '$1'" ;;
  esac
done

[ -n "$model" ] || { usage; fail 2 "--model is required"; }
[ -n "$tokens" ] || { usage; fail 2 "--tokens is required"; }
[ -e "$model" ] || fail 1 "--model $model: no such file or directory"
[ -f "$tokens" ] || fail 1 "--tokens $tokens: no such file"
[ -z "$imatrix" ] || [ -f "$imatrix" ] || fail 1 "--imatrix $imatrix: no such file"
for file in "${ggufs[@]}"; do [ -f "$file" ] || fail 1 "--gguf $file: no such file"; done
if ! [[ "$window" =~ ^[0-9]+$ ]] || [ "$window" -lt 2 ]; then fail 2 "--window $window: not a whole number >= 2"; fi
[[ "$threads" =~ ^[0-9]+$ ]] || fail 2 "--threads $threads: not a whole number"
IFS=, read -r -a recipes <<<"$recipes_list"
IFS=, read -r -a llama_types <<<"$llama_types_list"
for name in "${recipes[@]}"; do
  [[ "$name" =~ ^[A-Za-z0-9_]+(\+[a-z0-9-]+(=[A-Za-z0-9.=]+)?)*$ ]] ||
    fail 2 "'$name' in --recipes is not a type name (with +flags or +flag=value)"
done
for name in "${llama_types[@]}"; do
  [[ "$name" =~ ^[A-Za-z0-9_]+$ ]] || fail 2 "'$name' in --llama-types is not a type name"
done
[ ${#recipes[@]} -gt 0 ] || [ ${#ggufs[@]} -gt 0 ] || fail 2 "nothing to compare: give --recipes or --gguf"

convert="$bin/convert/smoe-convert"
perplexity="$bin/bench/smoe-perplexity"
[ -x "$convert" ] || fail 1 "$convert not found (build it: cmake --build $bin --target smoe-convert, or give --bin)"
[ -x "$perplexity" ] || fail 1 "$perplexity not found (build it: cmake --build $bin --target smoe-perplexity, or give --bin)"
command -v python3 >/dev/null || fail 1 "python3 not found (it reads the tools' JSON)"
quantize=$(command -v llama-quantize || true)

if [ -n "$out" ]; then
  mkdir -p "$out" || fail 1 "--out $out: cannot create"
  work=$(cd "$out" && pwd)
else
  work=$(mktemp -d)
  if [ "$keep" -eq 0 ]; then trap 'rm -rf "$work"' EXIT; else echo "$me: files kept in $work" >&2; fi
fi
rows="$work/rows.jsonl"
commands="$work/commands.txt"
: >"$rows"
: >"$commands"

# run OUT COMMAND...: COMMAND with its stdout in OUT and its stderr in OUT.err, recorded in the
# command list; on failure, its last lines of stderr and a non-zero exit.
run() {
  local out="$1"
  shift
  printf '%q ' "$@" | sed 's/ $//' >>"$commands"
  echo >>"$commands"
  "$@" >"$out" 2>"$out.err" || { tail -n 5 "$out.err" >&2; fail 1 "failed: $*"; }
}

# Files to score, in table order: NAME|SOURCE|CONTAINER|CONVERSION_OUT (its .err holds the notes)
entries=()
for recipe in "${recipes[@]}"; do
  IFS=+ read -r -a parts <<<"$recipe"
  extra=()
  for flag in "${parts[@]:1}"; do extra+=("--$flag"); done
  [ -z "$imatrix" ] || extra+=(--imatrix "$imatrix")
  run "$work/smoe-$recipe.log" "$convert" "$model" -o "$work/smoe-$recipe.smoe" --type "${parts[0]}" "${extra[@]}" \
    --quiet --no-source-hash
  label="smoe --type ${parts[0]}"
  for flag in "${parts[@]:1}"; do label+=" --$flag"; done
  [ -z "$imatrix" ] || label+=" --imatrix"
  entries+=("smoe-$recipe.smoe|$label|$work/smoe-$recipe.smoe|$work/smoe-$recipe.log")
done

# is_unquantized CONTAINER: true when its weights are all f32/f16/bf16 (an f16/f32 GGUF).
is_unquantized() {
  "$convert" inspect --json "$1" | python3 -c '
import json, sys
types = set(json.load(sys.stdin)["types"]) - {"u8"}  # u8: the tokenizer
sys.exit(0 if types <= {"f32", "f16", "bf16"} else 1)'
}

quantize_skipped=0
for file in "${ggufs[@]}"; do
  name=$(basename "$file")
  stem="${name%.gguf}"
  run "$work/$stem.log" "$convert" "$file" -o "$work/$stem.smoe" --type keep --quiet --no-source-hash
  entries+=("$name|llama.cpp, imported as is|$work/$stem.smoe|$work/$stem.log")
  is_unquantized "$work/$stem.smoe" || continue
  if [ -z "$quantize" ]; then
    [ "$llama_types_given" -eq 0 ] || fail 1 "--llama-types needs llama-quantize on PATH to quantize $name"
    quantize_skipped=1
    continue
  fi
  for type in "${llama_types[@]}"; do
    run "$work/$stem-$type.quantize.log" "$quantize" "$file" "$work/$stem-$type.gguf" "$type"
    run "$work/$stem-$type.log" "$convert" "$work/$stem-$type.gguf" -o "$work/$stem-$type.smoe" --type keep \
      --quiet --no-source-hash
    entries+=("$stem-$type.gguf|llama.cpp $type (llama-quantize)|$work/$stem-$type.smoe|$work/$stem-$type.log")
  done
done
[ "$quantize_skipped" -eq 0 ] ||
  echo "$me: llama-quantize is not on PATH: f16/f32 GGUF files are scored as they are, not quantized" >&2

run "$work/f32.log" "$convert" "$model" -o "$work/f32.smoe" --type f32 --quiet --no-source-hash
score=("$perplexity" --tokens "$tokens" --window "$window" -t "$threads" --json)
run "$work/base.json" "${score[@]}" -m "$work/f32.smoe" --save-logits "$work/base.f32"
base_ppl=$(tail -n 1 "$work/base.json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])')

for entry in "${entries[@]}"; do
  IFS='|' read -r name source container remark_log <<<"$entry"
  run "$container.score" "${score[@]}" -m "$container" --kl-base "$work/base.f32"
  "$convert" inspect --json "$container" >"$container.inspect.json"
  python3 - "$name" "$source" "$container.score" "$container.inspect.json" "$remark_log.err" >>"$rows" <<'PY'
import json, sys
name, source, score_path, inspect_path, remark_path = sys.argv[1:6]
score = json.loads(open(score_path).read().strip().splitlines()[-1])
info = json.load(open(inspect_path))
bits = info.get("recipe", {}).get("bits_per_weight")
bits_from = "recipe"
if bits is None:  # older containers: file size over the weights (the tokenizer's bytes are not weights)
    weights = sum(t["weights"] for name, t in info["types"].items() if name != "u8")
    bits, bits_from = 8 * info["file_bytes"] / weights, "file size"
# smoe-convert prints notes (lines starting "smoe-convert: ") for source types it requantizes.
notes = [line.removeprefix("smoe-convert: ").strip() for line in open(remark_path)
         if line.startswith("smoe-convert: ")]
print(json.dumps({"file": name, "source": source, "bits_per_weight": bits, "bits_from": bits_from,
                  "ppl": score["ppl"], "kld_mean": score["kld_mean"], "kld_p99": score["kld_p99"],
                  "top1_agreement": score["top1_agreement"], "tokens": score["tokens"],
                  "remark": "; ".join(notes)}))
PY
done

where="in $work"
[ -n "$out" ] || [ "$keep" -eq 1 ] || where="in a scratch directory, removed at exit"
python3 - "$rows" "$commands" "$json" "$base_ppl" "$work" "$where" <<'PY'
import json, sys
rows_path, commands_path, as_json, base_ppl, work, where = sys.argv[1:7]
rows = [json.loads(line) for line in open(rows_path)]
if as_json == "1":
    print(json.dumps(rows, indent=1))
    sys.exit(0)
print("| file | source | bits/weight | ppl | mean KLD | KLD p99 | top-1 |")
print("|---|---|---|---|---|---|---|")
for row in rows:
    source = row["source"] + ("; smoe-convert: " + row["remark"] if row["remark"] else "")
    bits = "%.2f%s" % (row["bits_per_weight"], "" if row["bits_from"] == "recipe" else "*")
    print("| %s | %s | %s | %.4f | %.5f | %.4f | %.2f%% |" % (
        row["file"], source, bits, row["ppl"], row["kld_mean"], row["kld_p99"], 100 * row["top1_agreement"]))
print()
print("KL base: the f32 container, ppl %.4f over %d scored tokens. Bits per weight: the container's"
      " recipe%s." % (float(base_ppl), rows[0]["tokens"] if rows else 0,
                      "; * from its file size over its weight count" if any(r["bits_from"] != "recipe" for r in rows)
                      else ""))
print()
print("Commands (%s):" % where)
print("```")
for line in open(commands_path):
    print(line.rstrip().replace(work + "/", ""))
print("```")
PY
