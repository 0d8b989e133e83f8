// Reading Hugging Face Mixtral releases (config, tokenizer, chat template, safetensors shards).
#include "convert/hf_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "convert/release_files.h"
#include "convert/safetensors_source.h"
#include "convert/special_tokens.h"
#include "format/metadata.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace fs = std::filesystem;
namespace {

// Shard names come from an untrusted index: plain file names only, never paths.
void check_shard_name(const std::string& index_path, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    throw Error(index_path, "shard name '" + name + "' is not a plain file name");
  }
}

}  // namespace

std::string hf_tensor_name(const std::string& canonical_name) {
  static const std::pair<const char*, const char*> kLayerNames[] = {
      {"attn_norm", "input_layernorm.weight"},    {"ffn_norm", "post_attention_layernorm.weight"},
      {"attn.q", "self_attn.q_proj.weight"},      {"attn.k", "self_attn.k_proj.weight"},
      {"attn.v", "self_attn.v_proj.weight"},      {"attn.o", "self_attn.o_proj.weight"},
      {"router", "block_sparse_moe.gate.weight"},
  };
  if (canonical_name == "token_embd") return "model.embed_tokens.weight";
  if (canonical_name == "output_norm") return "model.norm.weight";
  if (canonical_name == "output") return "lm_head.weight";
  // "layers.L.rest"
  const size_t dot = canonical_name.find('.', 7);
  const std::string layer_prefix = "model." + canonical_name.substr(0, dot + 1);
  const std::string rest = canonical_name.substr(dot + 1);
  for (const auto& [canonical, released] : kLayerNames) {
    if (rest == canonical) return layer_prefix + released;
  }
  // "experts.E.wN"
  return layer_prefix + "block_sparse_moe." + rest + ".weight";
}

HfCheckpoint HfCheckpoint::open(const std::string& path) {
  HfCheckpoint checkpoint;
  std::error_code error;
  const bool is_directory = fs::is_directory(path, error);
  if (!is_directory && !fs::is_regular_file(path, error)) throw Error(path, "no such file or directory");
  checkpoint.directory_ = is_directory ? path : fs::path(path).parent_path().string();
  if (checkpoint.directory_.empty()) checkpoint.directory_ = ".";
  const fs::path directory(checkpoint.directory_);
  checkpoint.read_config((directory / "config.json").string());
  checkpoint.read_tokenizer((directory / "tokenizer.model").string());
  checkpoint.read_tokenizer_config((directory / "tokenizer_config.json").string());
  checkpoint.read_special_tokens();
  std::string weights = path;
  if (is_directory) {
    const fs::path single = directory / "model.safetensors", index = directory / "model.safetensors.index.json";
    if (fs::exists(single)) {
      weights = single.string();
    } else if (fs::exists(index)) {
      weights = index.string();
    } else {
      throw Error(checkpoint.directory_, "no model.safetensors or model.safetensors.index.json");
    }
  }
  checkpoint.open_weights(weights);
  return checkpoint;
}

void HfCheckpoint::read_config(const std::string& path) {
  if (!fs::exists(path)) throw Error(path, "missing config.json");
  const nlohmann::json config = read_json_file(path);
  source_files_.push_back({path, fs::file_size(path)});
  const std::string model_type = config_string(config, "model_type", path, "");
  if (model_type != "mixtral") {
    throw Error(path, "model_type is '" + model_type + "', expected 'mixtral' (this converter reads Mixtral-family models)");
  }
  Hyperparameters& hp = hyperparameters_;
  hp.hidden_size = config_u32(config, "hidden_size", path);
  hp.intermediate_size = config_u32(config, "intermediate_size", path);
  hp.num_hidden_layers = config_u32(config, "num_hidden_layers", path);
  hp.num_attention_heads = config_u32(config, "num_attention_heads", path);
  hp.num_key_value_heads = config_u32(config, "num_key_value_heads", path, hp.num_attention_heads);
  hp.vocab_size = config_u32(config, "vocab_size", path);
  if (hp.num_attention_heads == 0) throw Error(path, "num_attention_heads is 0");
  // Defaults are transformers' MixtralConfig defaults.
  hp.head_dim = config_u32(config, "head_dim", path, hp.hidden_size / hp.num_attention_heads);
  hp.num_local_experts = config_u32(config, "num_local_experts", path, 8);
  hp.num_experts_per_tok = config_u32(config, "num_experts_per_tok", path, 2);
  hp.max_position_embeddings = config_u32(config, "max_position_embeddings", path, 4096 * 32);
  hp.sliding_window = config_u32(config, "sliding_window", path, 0);
  hp.bos_token_id = config_u32(config, "bos_token_id", path, 1);
  hp.eos_token_id = config_u32(config, "eos_token_id", path, 2);
  double rope_theta = 1e6;
  if (const auto rope = config.find("rope_parameters"); rope != config.end() && rope->is_object()) {
    rope_theta = config_double(*rope, "rope_theta", path, rope_theta);
    const std::string rope_type = config_string(*rope, "rope_type", path, "default");
    if (rope_type != "default") throw Error(path, "rope_type '" + rope_type + "' is not supported");
  }
  hp.rope_theta = config_double(config, "rope_theta", path, rope_theta);
  hp.rms_norm_eps = config_double(config, "rms_norm_eps", path, 1e-5);
  const std::string activation = config_string(config, "hidden_act", path, "silu");
  if (activation != "silu") throw Error(path, "hidden_act '" + activation + "' is not supported (Mixtral uses silu)");
  tied_embeddings_ = config_bool(config, "tie_word_embeddings", path, false);
  format::validate_hyperparameters(hp, path);
}

void HfCheckpoint::read_tokenizer(const std::string& path) {
  if (!fs::exists(path)) throw Error(path, "missing tokenizer.model (the SentencePiece model)");
  tokenizer_model_ = read_small_file(path, kMaxTokenizerBytes);
  source_files_.push_back({path, tokenizer_model_.size()});
  check_tokenizer_model(path, tokenizer_model_, hyperparameters_.vocab_size);
}

void HfCheckpoint::read_tokenizer_config(const std::string& path) {
  if (!fs::exists(path)) return;  // optional: without it the model simply has no chat template
  const nlohmann::json config = read_json_file(path);
  source_files_.push_back({path, fs::file_size(path)});
  const auto chat_template = config.find("chat_template");
  if (chat_template == config.end() || chat_template->is_null()) return;
  if (chat_template->is_string()) {
    chat_template_ = chat_template->get<std::string>();
    return;
  }
  // Newer releases list named templates: [{"name": "default", "template": "..."}, ...].
  if (chat_template->is_array()) {
    for (const nlohmann::json& entry : *chat_template) {
      if (entry.is_object() && entry.contains("name") && entry["name"] == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        chat_template_ = entry["template"].get<std::string>();
        return;
      }
    }
  }
  throw Error(path, "chat_template is neither a string nor a list with a 'default' template");
}

void HfCheckpoint::read_special_tokens() {
  ReleaseTokens tokens = read_hf_release_tokens(directory_, tokenizer_model_, hyperparameters_);
  tokenizer_config_ = std::move(tokens.config);
  template_variables_ = std::move(tokens.template_variables);
  source_files_.insert(source_files_.end(), tokens.files.begin(), tokens.files.end());
}

void HfCheckpoint::open_weights(const std::string& weights_path) {
  if (weights_path.ends_with(".index.json")) {
    const nlohmann::json index = read_json_file(weights_path);
    source_files_.push_back({weights_path, fs::file_size(weights_path)});
    const auto weight_map = index.find("weight_map");
    if (weight_map == index.end() || !weight_map->is_object()) throw Error(weights_path, "missing weight_map");
    std::map<std::string, const SafetensorsFile*> shard_by_name;
    for (const auto& [tensor, shard] : weight_map->items()) {
      if (!shard.is_string()) throw Error(weights_path, "weight_map entry for '" + tensor + "' is not a file name");
      const std::string shard_name = shard.get<std::string>();
      check_shard_name(weights_path, shard_name);
      auto& opened = shard_by_name[shard_name];
      if (!opened) {
        const std::string shard_path = (fs::path(directory_) / shard_name).string();
        if (!fs::exists(shard_path)) throw Error(shard_path, "missing shard listed in " + weights_path);
        shards_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(shard_path)));
        source_files_.push_back({shard_path, shards_.back()->mapping().size()});
        opened = shards_.back().get();
      }
      shard_by_tensor_[tensor] = opened;
    }
    return;
  }
  shards_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(weights_path)));
  source_files_.push_back({weights_path, shards_.back()->mapping().size()});
  for (const SourceTensor& tensor : shards_.back()->tensors()) shard_by_tensor_[tensor.name] = shards_.back().get();
}

HfCheckpoint::Located HfCheckpoint::tensor(const std::string& hf_name) const {
  const auto it = shard_by_tensor_.find(hf_name);
  if (it == shard_by_tensor_.end()) throw Error(directory_, "missing tensor '" + hf_name + "'");
  const SourceTensor* tensor = it->second->find(hf_name);
  if (!tensor) throw Error(it->second->path(), "missing tensor '" + hf_name + "' (the index lists it in this shard)");
  return {it->second, tensor};
}

std::unique_ptr<TensorSource> HfCheckpoint::tensor_source(const format::TensorSpec& spec) const {
  std::string hf_name = hf_tensor_name(spec.name);
  if (spec.name == "output" && tied_embeddings_) hf_name = hf_tensor_name("token_embd");
  const Located located = tensor(hf_name);
  check_safetensors_tensor(*located.file, *located.tensor, hf_name, spec, "config.json");
  return std::make_unique<SafetensorsTensorSource>(*located.file, *located.tensor);
}

}  // namespace smoe::convert
