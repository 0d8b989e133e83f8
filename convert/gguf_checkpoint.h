// A llama.cpp GGUF file (version 3, little-endian) of a Mixtral-type model: architecture
// "llama" with expert_count / expert_used_count, experts stored per layer as 3-D
// ffn_{gate,up,down}_exps tensors (or the older per-expert ffn_{gate,up,down}.E tensors).
// Hyperparameters come from the llama.* keys; the tokenizer is rebuilt as a SentencePiece
// model from tokenizer.ggml.*; attn_q/attn_k rows are put back into Hugging Face's RoPE order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "convert/checkpoint.h"
#include "convert/gguf_file.h"

namespace smoe::convert {

class GgufCheckpoint : public Checkpoint {
 public:
  static GgufCheckpoint open(const std::string& path);  // throws smoe::Error naming the file

  std::string_view format() const override { return "gguf"; }
  std::unique_ptr<TensorSource> tensor_source(const format::TensorSpec& spec) const override;

 private:
  void read_hyperparameters();
  void read_tokenizer();

  std::unique_ptr<GgufFile> file_;
};

}  // namespace smoe::convert
