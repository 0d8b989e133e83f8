// Mistral's own release layout: a directory with params.json (with its "moe" section),
// consolidated.safetensors or consolidated.NN.safetensors, and tokenizer.model. Tensor names
// follow Mistral's reference code (layers.N.attention.wq.weight,
// layers.N.feed_forward.experts.E.w1.weight, ...), and wq/wk store each head's rows in the
// interleaved RoPE order, which tensor_source() turns into Hugging Face's order.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convert/checkpoint.h"
#include "convert/safetensors_file.h"

namespace smoe::convert {

class MistralCheckpoint : public Checkpoint {
 public:
  // Throws smoe::Error naming the file; a directory holding only .pth pickles is refused with
  // a message saying how to get safetensors.
  static MistralCheckpoint open(const std::string& directory);

  std::string_view format() const override { return "mistral"; }
  std::unique_ptr<TensorSource> tensor_source(const format::TensorSpec& spec) const override;

 private:
  void read_params(const std::string& path);

  std::string directory_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsFile*> shard_by_tensor_;
};

// Released tensor name of a canonical one ("layers.0.attn.q" -> "layers.0.attention.wq.weight").
std::string mistral_tensor_name(const std::string& canonical_name);

}  // namespace smoe::convert
