// A Hugging Face Mixtral release on disk: config.json, tokenizer.model, tokenizer_config.json
// and the weights in model.safetensors or shards listed by model.safetensors.index.json; the
// added and special tokens also from tokenizer.json, added_tokens.json, special_tokens_map.json
// and generation_config.json when present (convert/special_tokens.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convert/checkpoint.h"
#include "convert/safetensors_file.h"
#include "smoe/hyperparameters.h"

namespace smoe::convert {

class HfCheckpoint : public Checkpoint {
 public:
  // `path` is the release directory or its model.safetensors / index file. Parses and
  // validates config.json, the tokenizer and every shard's header; throws smoe::Error.
  static HfCheckpoint open(const std::string& path);

  std::string_view format() const override { return "huggingface"; }
  const std::string& directory() const { return directory_; }
  bool tied_embeddings() const { return tied_embeddings_; }
  std::unique_ptr<TensorSource> tensor_source(const format::TensorSpec& spec) const override;

  struct Located {
    const SafetensorsFile* file;
    const SourceTensor* tensor;
  };
  // Finds a tensor by its released name; throws naming the tensor and where it was expected.
  Located tensor(const std::string& hf_name) const;

 private:
  void read_config(const std::string& path);
  void read_tokenizer(const std::string& path);
  void read_tokenizer_config(const std::string& path);
  void read_special_tokens();
  void open_weights(const std::string& weights_path);

  std::string directory_;
  bool tied_embeddings_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsFile*> shard_by_tensor_;
};

// Released tensor name of a canonical one ("layers.0.attn.q" -> "model.layers.0.self_attn.q_proj.weight").
std::string hf_tensor_name(const std::string& canonical_name);

}  // namespace smoe::convert
