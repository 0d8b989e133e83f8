// Builds a serialized SentencePiece ModelProto from a vocabulary as GGUF stores it
// (tokenizer.ggml.tokens / scores / token_type), so GGUF imports carry a tokenizer the runtime
// loads like any tokenizer.model. Only the fields that affect encoding and decoding are
// written; the settings are those of the Llama/Mistral tokenizers (BPE, byte fallback,
// identity normalization, a dummy prefix space, no whitespace folding).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smoe::convert {

struct SentencePieceVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;  // SentencePiece's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool add_dummy_prefix = true;
};

std::string build_sentencepiece_model(const SentencePieceVocab& vocab);

}  // namespace smoe::convert
