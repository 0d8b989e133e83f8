// Tiny random Mixtral releases for tests, around any SentencePiece vocabulary: a Hugging Face
// directory, the GGUF equivalent and Mistral's native layout, so a test can check what the
// converter reads from each release's tokenizer files. Weights are random f32 (one layer);
// only the tokenizer and the shapes matter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "smoe/hyperparameters.h"

namespace smoe::test {

// Edits a tensor's random values before they are written: `name` is the schema name ("output",
// "token_embd", "layers.0.attn.q"...), `values` its f32 values, rows outermost.
using WeightEdit = std::function<void(const std::string& name, std::vector<float>& values)>;

struct HfRelease {
  std::string tokenizer_model;  // tokenizer.model bytes
  uint32_t vocab_size = 0;      // config.json's vocab_size (embedding rows); 0 = the model's piece count
  // Further files by name (tokenizer.json, added_tokens.json, special_tokens_map.json,
  // generation_config.json...), written as given; "tokenizer_config.json" here replaces the default.
  std::map<std::string, std::string> files;
  // The default tokenizer_config.json: bos "<s>", eos "</s>", unk "<unk>" and this template (when not empty).
  std::string chat_template;
  nlohmann::json config = nlohmann::json::object();  // keys merged into config.json (eos_token_id lists...)
  WeightEdit edit_weights;  // optional
};

// The hyperparameters of every release written here, with `vocab_size`.
Hyperparameters tiny_release_hyperparameters(uint32_t vocab_size);

// config.json, tokenizer.model, tokenizer_config.json, model.safetensors and `release.files` in `dir`.
void write_hf_release(const std::filesystem::path& dir, const HfRelease& release);

// A vocabulary as GGUF stores it (tokenizer.ggml.*).
struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;  // SentencePiece's: 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte
  uint32_t bos_id = 1, eos_id = 2, unk_id = 0;
  int64_t eot_id = -1;  // tokenizer.ggml.eot_token_id when >= 0
  std::string chat_template;
};

// The pieces, scores and types of a SentencePiece model, as llama.cpp's converter writes them.
GgufVocab gguf_vocab_of(const std::string& tokenizer_model);

// A GGUF file (llama architecture, expert_count set, F32 tensors, one 2-D tensor per expert).
void write_gguf_release(const std::string& path, const GgufVocab& vocab, uint32_t vocab_size,
                        const WeightEdit& edit_weights = {});

// Mistral's layout: params.json, consolidated.safetensors and the tokenizer written as
// `tokenizer_name` (tokenizer.model, tokenizer.model.v3...); no tokenizer when the name is empty.
void write_mistral_release(const std::filesystem::path& dir, const std::string& tokenizer_model,
                           const std::string& tokenizer_name, uint32_t vocab_size);

// Mistral's v3 control tokens, at ids 3..9 of a v3 vocabulary.
extern const std::vector<std::string> kV3ControlTokens;
// The tiny model's tokenizer.model (4096 pieces) with kV3ControlTokens inserted as CONTROL
// pieces after </s>: 4103 pieces, the tiny model's others shifted by 7.
std::string v3_tokenizer_model();

// The tiny model's tokenizer.model bytes.
std::string tiny_tokenizer_model();

// The tiny model's tokenizer.model grown to `total_pieces` pieces (the 32000 of Llama's and
// Mistral's v1 vocabulary, past which fine-tunes add their tokens): NORMAL pieces "▁zzq00001",
// "▁zzq00002"... appended with scores far below every merge's, so no ordinary text encodes
// differently. `total_pieces` must be at least the tiny model's 4096.
std::string padded_tokenizer_model(uint32_t total_pieces);

}  // namespace smoe::test
