#!/usr/bin/python3
"""Reference renderer for the chat-template conformance corpus.

Usage:  /usr/bin/python3 tests/support/render_chat_templates.py CORPUS_DIR [--out FILE] [--inputs]

CORPUS_DIR holds <name>.jinja (raw template bytes), conversations.json and
variables.json (see SOURCES.md there).  Every template x conversation pair is
rendered the way Hugging Face transformers' apply_chat_template(tokenize=False)
renders it (transformers/utils/chat_template_utils.py, _compile_jinja_template
and render_jinja_template; tokenization_utils_base.py apply_chat_template):

  * jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True,
    lstrip_blocks=True, extensions=[loopcontrols, <generation tag>]);
    {% generation %}...{% endgeneration %} renders its body unchanged (HF's
    AssistantTracker only records offsets; no corpus template uses it today).
  * filter tojson(x, ensure_ascii=False, indent=None, separators=None,
    sort_keys=False) = json.dumps with those arguments.
  * globals raise_exception(msg) -> raises jinja2.exceptions.TemplateError(msg),
    strftime_now(fmt) -> FIXED_NOW.strftime(fmt) with FIXED_NOW =
    datetime(2024, 7, 26, 0, 0, 0) (e.g. "%d %b %Y" -> "26 Jul 2024",
    "%Y-%m-%d" -> "2024-07-26").  The C++ tests must use the same fixed date.
  * render variables, exactly as transformers passes them:
      messages, tools, documents, add_generation_prompt, + special tokens.
    tools is ALWAYS passed: the conversation's "tools" list, or None when the
    conversation has none (transformers: tool_schemas = None; so `tools is
    defined` is true and `tools is none` is true).  documents is always None.
    Special tokens come from variables.json: the entry named after the template
    if present, else "default"; an entry replaces "default" wholesale and only
    the keys it lists are passed (transformers' special_tokens_map omits unset
    tokens).  Precedence matches template_kwargs = {**special_tokens_map}.
  * a conversation with "templates": [...] is rendered only with those; one
    with "exclude_templates": [...] is not rendered with those.

Output: one JSON object (stdout or --out FILE), keys in sorted template order
and conversations.json order:
  {"<template>": {"<conversation>": {"text": RENDERED}
                                   | {"error": str(exc), "error_type": class}}}
with --inputs every pair also carries "inputs": the exact variables dict passed
to render() (JSON; None -> null).  Output is deterministic.
"""
import argparse
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.sandbox

FIXED_NOW = datetime.datetime(2024, 7, 26, 0, 0, 0)


class GenerationTag(jinja2.ext.Extension):
    """{% generation %} ... {% endgeneration %} as HF's AssistantTracker parses
    it (a CallBlock around the body), minus the offset tracking."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_passthrough"), [], [], body).set_lineno(lineno)

    def _passthrough(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: FIXED_NOW.strftime(fmt)
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus_dir")
    ap.add_argument("--out")
    ap.add_argument("--inputs", action="store_true", help="also emit the variables each pair got")
    args = ap.parse_args()

    d = args.corpus_dir
    with open(os.path.join(d, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)
    with open(os.path.join(d, "variables.json"), encoding="utf-8") as f:
        variables = json.load(f)
    names = sorted(n[:-len(".jinja")] for n in os.listdir(d) if n.endswith(".jinja"))

    env = make_env()
    result = {}
    for name in names:
        with open(os.path.join(d, name + ".jinja"), encoding="utf-8", newline="") as f:
            source = f.read()
        out = result[name] = {}
        try:
            template = env.from_string(source)
        except jinja2.exceptions.TemplateError as e:  # cannot even be parsed by Jinja2
            out["__compile__"] = {"error": str(e), "error_type": type(e).__name__}
            continue
        special = variables.get(name, variables["default"])
        for conv in conversations:
            if ("templates" in conv and name not in conv["templates"]) or name in conv.get("exclude_templates", ()):
                continue
            ctx = {"messages": conv["messages"], "tools": conv.get("tools"), "documents": None,
                   "add_generation_prompt": conv["add_generation_prompt"], **special}
            ctx = json.loads(json.dumps(ctx))  # fresh copy so a template cannot leak state between pairs
            try:
                entry = {"text": template.render(**ctx)}
            except Exception as e:  # raise_exception, undefined/type errors, ...
                entry = {"error": str(e), "error_type": type(e).__name__}
            if args.inputs:
                entry["inputs"] = ctx
            out[conv["name"]] = entry

    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
