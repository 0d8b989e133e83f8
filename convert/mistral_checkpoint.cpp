// Reading Mistral's native release layout.
#include "convert/mistral_checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "convert/builtin_templates.h"
#include "convert/release_files.h"
#include "convert/safetensors_source.h"
#include "convert/sentencepiece_model.h"
#include "convert/special_tokens.h"
#include "format/metadata.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace fs = std::filesystem;
namespace {

// The SentencePiece models a Mistral release may ship, most preferred first: the v3 vocabulary
// (with the [INST] and tool control tokens) when a release has both.
constexpr const char* kTokenizerFiles[] = {"tokenizer.model.v3", "tokenizer.model.v1", "tokenizer.model"};

bool has_control_piece(const std::string& model, const std::string& path, const std::string& text) {
  for (const SentencePieceEntry& entry : read_sentencepiece_pieces(model, path)) {
    if (entry.type == kPieceControl && entry.piece == text) return true;
  }
  return false;
}

}  // namespace

std::string mistral_tensor_name(const std::string& canonical_name) {
  static const std::pair<const char*, const char*> kLayerNames[] = {
      {"attn_norm", "attention_norm.weight"}, {"ffn_norm", "ffn_norm.weight"},
      {"attn.q", "attention.wq.weight"},      {"attn.k", "attention.wk.weight"},
      {"attn.v", "attention.wv.weight"},      {"attn.o", "attention.wo.weight"},
      {"router", "feed_forward.gate.weight"},
  };
  if (canonical_name == "token_embd") return "tok_embeddings.weight";
  if (canonical_name == "output_norm") return "norm.weight";
  if (canonical_name == "output") return "output.weight";
  const size_t dot = canonical_name.find('.', 7);  // "layers.L.rest"
  const std::string prefix = canonical_name.substr(0, dot + 1);
  const std::string rest = canonical_name.substr(dot + 1);
  for (const auto& [canonical, released] : kLayerNames) {
    if (rest == canonical) return prefix + released;
  }
  return prefix + "feed_forward." + rest + ".weight";  // experts.E.wN
}

MistralCheckpoint MistralCheckpoint::open(const std::string& directory) {
  MistralCheckpoint checkpoint;
  checkpoint.directory_ = directory;
  std::error_code error;
  if (!fs::is_directory(directory, error)) throw Error(directory, "a Mistral release is a directory with params.json");
  const fs::path root(directory);
  checkpoint.read_params((root / "params.json").string());

  std::string tokenizer;
  for (const char* name : kTokenizerFiles) {
    if (fs::exists(root / name, error)) {
      tokenizer = (root / name).string();
      break;
    }
  }
  if (tokenizer.empty()) {
    if (fs::exists(root / "tekken.json", error)) {
      throw Error((root / "tekken.json").string(),
                  "this release uses the Tekken tokenizer (tekken.json), which smoe does not support yet; only "
                  "SentencePiece vocabularies (tokenizer.model, tokenizer.model.v3) can be converted");
    }
    throw Error((root / "tokenizer.model").string(), "missing tokenizer.model (the SentencePiece model)");
  }
  checkpoint.tokenizer_model_ = read_small_file(tokenizer, kMaxTokenizerBytes);
  checkpoint.source_files_.push_back({tokenizer, checkpoint.tokenizer_model_.size()});
  check_tokenizer_model(tokenizer, checkpoint.tokenizer_model_, checkpoint.hyperparameters_.vocab_size);
  // The vocabulary's CONTROL pieces ([INST], [TOOL_CALLS], ...) are its special tokens.
  ReleaseTokens tokens = sentencepiece_release_tokens(checkpoint.tokenizer_model_, tokenizer, checkpoint.hyperparameters_);
  checkpoint.tokenizer_config_ = std::move(tokens.config);
  checkpoint.template_variables_ = std::move(tokens.template_variables);
  const bool v3 = has_control_piece(checkpoint.tokenizer_model_, tokenizer, "[INST]");
  checkpoint.chat_template_ = v3 ? kMistralV3InstructTemplate : kMixtral8x7bInstructTemplate;

  std::vector<std::string> weights, pickles;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("consolidated")) continue;
    if (name.ends_with(".safetensors")) weights.push_back(entry.path().string());
    if (name.ends_with(".pth") || name.ends_with(".pt")) pickles.push_back(entry.path().string());
  }
  if (weights.empty()) {
    if (!pickles.empty()) {
      throw Error(pickles.front(), "is a PyTorch pickle, which smoe does not read (unpickling can run arbitrary code); "
                                   "download the release's consolidated.safetensors instead, or convert the .pth to "
                                   "safetensors with torch.load(..., weights_only=True) and safetensors.torch.save_file");
    }
    throw Error(directory, "no consolidated.safetensors or consolidated.NN.safetensors");
  }
  std::sort(weights.begin(), weights.end());
  for (const std::string& path : weights) {
    checkpoint.shards_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(path)));
    checkpoint.source_files_.push_back({path, checkpoint.shards_.back()->mapping().size()});
    for (const SourceTensor& tensor : checkpoint.shards_.back()->tensors()) {
      const auto [it, inserted] = checkpoint.shard_by_tensor_.emplace(tensor.name, checkpoint.shards_.back().get());
      if (!inserted) throw Error(path, "tensor '" + tensor.name + "' also appears in " + it->second->path());
    }
  }
  return checkpoint;
}

void MistralCheckpoint::read_params(const std::string& path) {
  if (!fs::exists(path)) throw Error(path, "missing params.json");
  const nlohmann::json params = read_json_file(path);
  source_files_.push_back({path, fs::file_size(path)});
  const auto moe = params.find("moe");
  if (moe == params.end() || !moe->is_object()) {
    throw Error(path, "no \"moe\" section: this is not a mixture-of-experts (Mixtral) release");
  }
  Hyperparameters& hp = hyperparameters_;
  hp.hidden_size = config_u32(params, "dim", path);
  hp.num_hidden_layers = config_u32(params, "n_layers", path);
  hp.num_attention_heads = config_u32(params, "n_heads", path);
  hp.num_key_value_heads = config_u32(params, "n_kv_heads", path, hp.num_attention_heads);
  if (hp.num_attention_heads == 0) throw Error(path, "n_heads is 0");
  hp.head_dim = config_u32(params, "head_dim", path, hp.hidden_size / hp.num_attention_heads);
  hp.intermediate_size = config_u32(params, "hidden_dim", path);
  hp.vocab_size = config_u32(params, "vocab_size", path);
  hp.num_local_experts = config_u32(*moe, "num_experts", path);
  hp.num_experts_per_tok = config_u32(*moe, "num_experts_per_tok", path);
  hp.max_position_embeddings = config_u32(params, "max_seq_len", path, 32768);
  hp.sliding_window = config_u32(params, "sliding_window", path, 0);
  hp.rope_theta = config_double(params, "rope_theta", path, 1e6);
  hp.rms_norm_eps = config_double(params, "norm_eps", path, 1e-5);
  format::validate_hyperparameters(hp, path);
}

std::unique_ptr<TensorSource> MistralCheckpoint::tensor_source(const format::TensorSpec& spec) const {
  const std::string name = mistral_tensor_name(spec.name);
  const auto it = shard_by_tensor_.find(name);
  if (it == shard_by_tensor_.end()) throw Error(directory_, "missing tensor '" + name + "'");
  const SourceTensor& tensor = *it->second->find(name);
  check_safetensors_tensor(*it->second, tensor, name, spec, "params.json");
  std::vector<uint64_t> row_order;
  const Hyperparameters& hp = hyperparameters_;
  if (spec.name.ends_with(".attn.q")) row_order = interleaved_rope_rows(hp.num_attention_heads, hp.head_dim);
  if (spec.name.ends_with(".attn.k")) row_order = interleaved_rope_rows(hp.num_key_value_heads, hp.head_dim);
  return std::make_unique<SafetensorsTensorSource>(*it->second, tensor, std::move(row_order));
}

}  // namespace smoe::convert
