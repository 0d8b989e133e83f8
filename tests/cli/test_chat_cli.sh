#!/usr/bin/env bash
# End-to-end checks of smoe-chat's chat features (--tokenize, --render, --messages, --tools,
# --chat-template, --json) and of smoe-convert's chat-template handling, against Python's Jinja2
# and sentencepiece as Hugging Face uses them. Usage: test_chat_cli.sh BUILD_DIR TEST_DATA_DIR
set -euo pipefail
build="$1"
data="$2"
source "$(dirname "$0")/check.sh"

# Debian's Python carries jinja2 and sentencepiece; the first python3 on PATH may not.
python=/usr/bin/python3
[[ -x "$python" ]] || python=python3
"$python" -c 'import jinja2, sentencepiece' || { echo "FAILED: $python lacks jinja2 or sentencepiece"; exit 1; }

convert="$build/convert/smoe-convert"
chat="$build/examples/smoe-chat"
tiny="$data/mixtral-tiny"
templates="$data/chat_templates"
"$convert" "$tiny" -o "$work/tiny.smoe" --type q8 --quiet || { echo "FAILED: converting the tiny model"; exit 1; }
# One thread: OpenMP threads that spin against other load on a small machine slow every run.
model=(-m "$work/tiny.smoe" -t 1)

# run OUT_VAR ERR_VAR RC_VAR COMMAND...: stdout, stderr and exit status of COMMAND, under set -e.
run() {
  local -n out_ref="$1" err_ref="$2" rc_ref="$3"
  shift 3
  rc_ref=0
  "$@" >"$work/run.out" 2>"$work/run.err" || rc_ref=$?
  out_ref=$(<"$work/run.out")
  err_ref=$(<"$work/run.err")
}

# expect_json_equal NAME ACTUAL EXPECTED: both JSON values, compared after parsing.
expect_json_equal() {
  check "$1" "$python" -c '
import json, sys
actual, expected = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if actual != expected:
    sys.exit(f"  got      {actual!r}\n  expected {expected!r}")' "$2" "$3"
}

# field JSON KEY: the value at KEY of the JSON object JSON, as JSON.
field() { "$python" -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])[sys.argv[2]]))' "$1" "$2"; }

# reference_render TEMPLATE_FILE MESSAGES_FILE [TOOLS_FILE]: {"text", "prompt_ids"} as Hugging Face
# computes them: Jinja2 renders (transformers' environment and variables), then the text is split
# at the special tokens "<s>" and "</s>" and each piece is encoded with sentencepiece.
reference_render() {
  "$python" - "$tiny/tokenizer.model" "$@" <<'EOF'
import json, sys
import jinja2.exceptions, jinja2.ext, jinja2.sandbox, sentencepiece

model, template_file, messages_file = sys.argv[1:4]
tools = json.load(open(sys.argv[4], encoding="utf-8")) if len(sys.argv) > 4 else None

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                   extensions=[jinja2.ext.loopcontrols])
env.globals["raise_exception"] = raise_exception
source = open(template_file, encoding="utf-8", newline="").read()
if template_file.endswith(".json"):  # a tokenizer_config.json: its chat_template
    source = json.loads(source)["chat_template"]
text = env.from_string(source).render(messages=json.load(open(messages_file, encoding="utf-8")), tools=tools,
                                      documents=None, add_generation_prompt=True, bos_token="<s>", eos_token="</s>",
                                      unk_token="<unk>")
sp = sentencepiece.SentencePieceProcessor(model_file=model)
ids, rest = [], text
while rest:
    cuts = [(rest.find(token), token) for token in ("<s>", "</s>") if rest.find(token) >= 0]
    at, token = min(cuts) if cuts else (len(rest), None)
    if at > 0:
        ids += sp.encode(rest[:at])
    if token is None:
        break
    ids.append(sp.piece_to_id(token))
    rest = rest[at + len(token):]
print(json.dumps({"text": text, "prompt_ids": ids}, ensure_ascii=False))
EOF
}

# --tokenize: BOS alone for empty text; special-token strings are text unless --parse-special.
run out err rc "$chat" "${model[@]}" --tokenize ""
check "--tokenize \"\" exits 0" test "$rc" -eq 0
expect_json_equal "--tokenize \"\" prints [1] (BOS alone)" "$out" "[1]"
run out err rc "$chat" "${model[@]}" --tokenize "<s>x" --parse-special
check "--tokenize \"<s>x\" --parse-special starts [1,1,...]: <s> is BOS" \
  "$python" -c 'import json, sys; ids = json.loads(sys.argv[1]); assert ids[:2] == [1, 1] and len(ids) > 2, ids' "$out"
run out err rc "$chat" "${model[@]}" --tokenize "<s>x"
expect_json_equal "--tokenize \"<s>x\" without --parse-special encodes <s> as text" "$out" \
  "$("$python" -c 'import json, sentencepiece, sys
sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1]); print(json.dumps([1] + sp.encode("<s>x")))' \
  "$tiny/tokenizer.model")"

# --render with the model's own template (stored from tokenizer_config.json).
cat >"$work/chat.json" <<'EOF'
[{"role": "system", "content": "Be brief."},
 {"role": "user", "content": "Hello"},
 {"role": "assistant", "content": "Hi there"},
 {"role": "user", "content": "Wie geht's? Ça va, São Paulo?"}]
EOF
run out err rc "$chat" "${model[@]}" --render --messages "$work/chat.json"
check "--render --messages exits 0 (stderr: $err)" test "$rc" -eq 0
check "--render prints exactly one JSON object with text and prompt_ids" "$python" -c '
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 1, lines
out = json.loads(lines[0])
assert isinstance(out, dict) and set(out) == {"text", "prompt_ids"}, out' "$out"
reference=$(reference_render "$tiny/tokenizer_config.json" "$work/chat.json") ||
  { echo "FAILED: the Jinja2 reference"; exit 1; }
expect_json_equal "--render text is Jinja2's rendering of the model's template" \
  "$(field "$out" text)" \
  "$(field "$reference" text)"
expect_json_equal "--render prompt_ids are sentencepiece's ids of the text split at <s> and </s>" \
  "$(field "$out" prompt_ids)" \
  "$(field "$reference" prompt_ids)"

# --chat-template with --tools: Mixtral 8x22B's tool-use template prints the tools with Python's
# str() of the list ("tools|string"), quotes and non-ASCII included.
cat >"$work/tools.json" <<'EOF'
[{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city.",
  "parameters": {"type": "object", "properties": {
    "city": {"type": "string", "description": "City name, e.g. \"Paris\" or 'São Paulo'"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
 {"type": "function", "function": {"name": "get_time", "description": "Current local time in a timezone.",
  "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}]
EOF
cat >"$work/tool_chat.json" <<'EOF'
[{"role": "user", "content": "Hello"},
 {"role": "assistant", "content": "Hi there"},
 {"role": "user", "content": "What's the weather in São Paulo?"}]
EOF
tool_template="$templates/mixtral-8x22b-instruct-v0.1-tool_use.jinja"
run out err rc "$chat" "${model[@]}" --chat-template "$tool_template" --tools "$work/tools.json" --render \
  --messages "$work/tool_chat.json"
check "--chat-template --tools --render exits 0 (stderr: $err)" test "$rc" -eq 0
reference=$(reference_render "$tool_template" "$work/tool_chat.json" "$work/tools.json") ||
  { echo "FAILED: the Jinja2 reference with tools"; exit 1; }
expect_json_equal "--chat-template --tools: text is Jinja2's rendering with the tools" \
  "$(field "$out" text)" \
  "$(field "$reference" text)"
check "--chat-template --tools: the rendered text holds [AVAILABLE_TOOLS]" grep -q 'AVAILABLE_TOOLS' <<<"$out"

# Errors are exit status 1 with a message, never a crash (exit >= 128).
printf '[{"role": "user",' >"$work/malformed.json"
run out err rc "$chat" "${model[@]}" --render --messages "$work/malformed.json"
check "malformed --messages JSON exits 1 (got $rc)" test "$rc" -eq 1
check "malformed --messages JSON: the error names the file (stderr: $err)" grep -q "malformed.json" <<<"$err"
printf '[{"content": "Hello"}]' >"$work/no_role.json"
run out err rc "$chat" "${model[@]}" --render --messages "$work/no_role.json"
check "a message without a role exits 1 (got $rc)" test "$rc" -eq 1
check "a message without a role: the error names the file and 'role' (stderr: $err)" \
  grep -q "no_role.json.*role" <<<"$err"
printf '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]' >"$work/two_users.json"
run out err rc "$chat" "${model[@]}" --chat-template "$templates/mixtral-8x7b-instruct-v0.1.jinja" --render \
  --messages "$work/two_users.json"
check "a template's raise_exception exits 1 (got $rc)" test "$rc" -eq 1
check "a template's raise_exception: stderr carries the template's message (stderr: $err)" \
  grep -q "Conversation roles must alternate" <<<"$err"
run out err rc "$chat" "${model[@]}" --chat-template "$templates/mixtral-8x7b-instruct-v0.1.jinja" \
  --messages "$work/two_users.json" -n 2
check "generating from a conversation the template refuses exits 1, not a crash (got $rc)" test "$rc" -eq 1

# -p --json: one object with a stop reason.
run out err rc "$chat" "${model[@]}" -p Hello -n 4 --greedy --json
check "-p --json exits 0 (stderr: $err)" test "$rc" -eq 0
check "-p --json prints JSON with stop_reason max_tokens or end_token" "$python" -c '
import json, sys
out = json.loads(sys.argv[1])
assert out["stop_reason"] in ("max_tokens", "end_token"), out
assert 1 <= len(out["generated_ids"]) <= 4, out
assert out["stop_reason"] == "end_token" or len(out["generated_ids"]) == 4, out' "$out"

# --json text is valid UTF-8 even when generation stops inside a character: hot sampling of --raw
# prompts draws byte-fallback pieces (<0xE6> ...) that split characters; every output must parse
# as strict UTF-8 JSON, and at least one run must have drawn a byte piece for the check to bite.
check "--json output is strict UTF-8 JSON when byte-fallback pieces cut characters" "$python" - \
  "$chat" "$work/tiny.smoe" "$tiny/tokenizer.model" <<'EOF'
import json, subprocess, sys
import sentencepiece

chat, model, tokenizer = sys.argv[1:4]
sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer)
runs_with_bytes = 0
for seed in range(1, 21):
    for n in range(1, 7):
        run = subprocess.run([chat, "-m", model, "-t", "1", "--raw", "-p", "São Paulo: 東京 ", "--temp", "1.5",
                              "--seed", str(seed), "-n", str(n), "--json"], capture_output=True)
        if run.returncode != 0:
            sys.exit(f"seed {seed} -n {n}: exit {run.returncode}: {run.stderr.decode(errors='replace')}")
        try:
            out = json.loads(run.stdout.decode("utf-8"))
        except ValueError as error:
            sys.exit(f"seed {seed} -n {n}: not strict UTF-8 JSON ({error}): {run.stdout!r}")
        if any(sp.is_byte(i) for i in out["generated_ids"]):
            runs_with_bytes += 1
if runs_with_bytes == 0:
    sys.exit("no run generated a byte-fallback token: the check did not exercise split characters")
EOF

# Conversion refuses a template smoe cannot render, naming the construct and the way out, and
# leaves no output; --chat-template stores a replacement.
cp -r "$tiny" "$work/release"
rm -f "$work/release"/*.gguf "$work/release"/logits.f32 "$work/release"/ppl_windows.i32
"$python" -c '
import json, sys
path = sys.argv[1] + "/tokenizer_config.json"
config = json.load(open(path))
config["chat_template"] = "{% include \"x\" %}"
json.dump(config, open(path, "w"))' "$work/release"
run out err rc "$convert" "$work/release" -o "$work/unsupported.smoe" --type q8 --quiet
check "an unsupported chat template fails the conversion with exit 1 (got $rc)" test "$rc" -eq 1
check "the conversion error names the construct 'include' (stderr: $err)" grep -q "include" <<<"$err"
check "the conversion error points to --chat-template (stderr: $err)" grep -q -- "--chat-template" <<<"$err"
check "a refused conversion leaves no output file" test ! -e "$work/unsupported.smoe"
good_template="$templates/mixtral-8x7b-instruct-v0.1.jinja"
run out err rc "$convert" "$work/release" -o "$work/replaced.smoe" --type q8 --quiet --chat-template "$good_template"
check "--chat-template replaces the unsupported template (exit $rc, stderr: $err)" test "$rc" -eq 0
run out err rc "$convert" inspect --json "$work/replaced.smoe"
check "inspect --json shows the --chat-template file's template" "$python" -c '
import json, sys
out = json.loads(sys.argv[1])
expected = open(sys.argv[2], encoding="utf-8", newline="").read()
assert out["chat_template"] == expected, (out.get("chat_template"), expected)' "$out" "$good_template"

# inspect (text) lists the special tokens and the end ids.
run out err rc "$convert" inspect "$work/tiny.smoe"
check "inspect exits 0" test "$rc" -eq 0
check "inspect lists the special token <s>" grep -Eq '^ +1 +special "<s>"' <<<"$out"
check "inspect lists the special token </s>" grep -Eq '^ +2 +special "</s>"' <<<"$out"
check "inspect lists the end ids" grep -Eq '^end tokens +\[2\]' <<<"$out"

# A forced read that cannot fit the memory budget is refused, not OOM-killed; --verbose says the budget.
run out err rc "$chat" -m "$work/tiny.smoe" -t 1 --ram 1K --no-mmap -p Hello -n 1
check "--ram 1K --no-mmap exits 1 (got $rc)" test "$rc" -eq 1
check "--ram 1K --no-mmap says the budget and the way out" grep -q "the budget is --ram .*--mmap" <<<"$err"
run out err rc "$chat" -m "$work/tiny.smoe" -t 1 --verbose -p Hello -n 1
check "--verbose prints the memory budget" grep -Eq "^memory budget [0-9.]+ GiB \((MemAvailable|cgroup v[12] limit)" <<<"$err"

finish "chat cli"
