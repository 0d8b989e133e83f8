#!/usr/bin/python3
"""Reference tokenization of rendered chat texts, independent of smoe's C++ code.

Usage: tokenize_reference.py REQUEST.json, where the request is
  {"model": "path/to/tokenizer.model",
   "tokens": [{"id": 32000, "text": "<|im_end|>", "special": true}, ...],
   "texts": ["<s>[INST] Hello [/INST]", ...]}
and prints {"ids": [[...], ...], "decoded": [...], "decoded_special": [...]}.

Each text is split at the listed token strings (at each position the longest one that starts
there, scanning left to right: Hugging Face's added-token matching), the strings become their
ids and the text between them is encoded by SentencePiece one segment at a time. Decoding
decodes each run of SentencePiece ids with SentencePiece; a listed token shows its text when
it is not special, or always in "decoded_special". Run it with Debian's /usr/bin/python3,
which has the sentencepiece module.
"""
import json
import sys

import sentencepiece


def split(text, tokens):
    by_text = {token["text"]: token["id"] for token in tokens}
    longest_first = sorted(by_text, key=len, reverse=True)
    segments, plain, at = [], "", 0
    while at < len(text):
        match = next((t for t in longest_first if text.startswith(t, at)), None)
        if match is None:
            plain += text[at]
            at += 1
            continue
        if plain:
            segments.append(plain)
            plain = ""
        segments.append(by_text[match])
        at += len(match)
    if plain:
        segments.append(plain)
    return segments


def encode(processor, text, tokens):
    ids = []
    for segment in split(text, tokens):
        ids += [segment] if isinstance(segment, int) else processor.encode(segment)
    return ids


def decode(processor, ids, tokens, show_special):
    by_id = {token["id"]: token for token in tokens}
    text, run = "", []
    for token_id in ids:
        if token_id in by_id:
            text += processor.decode(run)
            run = []
            if show_special or not by_id[token_id]["special"]:
                text += by_id[token_id]["text"]
        else:
            run.append(token_id)
    return text + processor.decode(run)


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    processor = sentencepiece.SentencePieceProcessor(model_file=request["model"])
    tokens = request["tokens"]
    ids = [encode(processor, text, tokens) for text in request["texts"]]
    json.dump({"ids": ids,
               "decoded": [decode(processor, each, tokens, False) for each in ids],
               "decoded_special": [decode(processor, each, tokens, True) for each in ids]},
              sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
