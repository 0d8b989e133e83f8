#!/usr/bin/env python3
"""Writes a synthetic Hugging Face Mixtral checkpoint (random bf16 weights, real tensor names,
sharded safetensors + index) with Mixtral 8x7B's shapes and a chosen number of layers, to
measure smoe-convert's time and peak memory on multi-GB inputs. Standard library only.

usage: make_synthetic_checkpoint.py OUT_DIR --layers 2 --shards 2 [--tokenizer tests/data/mixtral-tiny]
"""
import argparse
import json
import os
import random
import shutil
import struct

SHAPES = dict(hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
              num_key_value_heads=8, head_dim=128, num_local_experts=8, vocab_size=32000)


def tensor_list(layers):
    h, f, v = SHAPES["hidden_size"], SHAPES["intermediate_size"], SHAPES["vocab_size"]
    q, kv = SHAPES["num_attention_heads"] * SHAPES["head_dim"], SHAPES["num_key_value_heads"] * SHAPES["head_dim"]
    yield "model.embed_tokens.weight", [v, h]
    for layer in range(layers):
        p = f"model.layers.{layer}."
        yield p + "input_layernorm.weight", [h]
        yield p + "self_attn.q_proj.weight", [q, h]
        yield p + "self_attn.k_proj.weight", [kv, h]
        yield p + "self_attn.v_proj.weight", [kv, h]
        yield p + "self_attn.o_proj.weight", [h, q]
        yield p + "post_attention_layernorm.weight", [h]
        yield p + "block_sparse_moe.gate.weight", [SHAPES["num_local_experts"], h]
        for expert in range(SHAPES["num_local_experts"]):
            for matrix, shape in (("w1", [f, h]), ("w2", [h, f]), ("w3", [f, h])):
                yield p + f"block_sparse_moe.experts.{expert}.{matrix}.weight", shape
    yield "model.norm.weight", [h]
    yield "lm_head.weight", [v, h]


def bf16_pattern(values):
    """Random small bf16 values (|w| around 0.02), as raw little-endian bytes."""
    rng = random.Random(7)
    out = bytearray()
    for _ in range(values):
        bits = struct.unpack("<I", struct.pack("<f", rng.gauss(0.0, 0.02)))[0] >> 16
        out += struct.pack("<H", bits)
    return bytes(out)


def write_shard(path, tensors, pattern):
    header, offset = {}, 0
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        for index, (name, shape) in enumerate(tensors):
            remaining = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            start = (index * 4099 * 2) % len(pattern)
            rotated = pattern[start:] + pattern[:start]
            while remaining > 0:
                chunk = rotated[:remaining]
                out.write(chunk)
                remaining -= len(chunk)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--tokenizer", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "mixtral-tiny"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    config = dict(SHAPES, model_type="mixtral", architectures=["MixtralForCausalLM"], num_hidden_layers=args.layers,
                  num_experts_per_tok=2, max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-5,
                  bos_token_id=1, eos_token_id=2, hidden_act="silu", tie_word_embeddings=False, sliding_window=None)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.tokenizer, name), args.out)
    tensors = list(tensor_list(args.layers))
    pattern = bf16_pattern(1 << 19)
    per_shard = -(-len(tensors) // args.shards)
    weight_map = {}
    for shard in range(args.shards):
        name = f"model-{shard + 1:05d}-of-{args.shards:05d}.safetensors"
        part = tensors[shard * per_shard:(shard + 1) * per_shard]
        write_shard(os.path.join(args.out, name), part, pattern)
        weight_map.update({tensor: name for tensor, _ in part})
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    main()
