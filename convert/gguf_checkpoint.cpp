// Reading Mixtral-type models from GGUF.
#include "convert/gguf_checkpoint.h"

#include <algorithm>

#include "convert/ggml_blocks.h"
#include "convert/sentencepiece_model.h"
#include "convert/special_tokens.h"
#include "format/metadata.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace {

// One expert's matrix (or a whole 2-D tensor, or a norm) inside a GGUF tensor.
class GgufTensorSource : public TensorSource {
 public:
  GgufTensorSource(const GgufFile& file, const GgufTensorInfo& info, uint64_t first_byte, uint64_t row_elements,
                   std::vector<uint64_t> row_order)
      : file_(file), info_(info), data_(file.mapping().data() + first_byte), row_elements_(row_elements),
        row_bytes_(row_elements / ggml_type_info(info.type)->block_elements * ggml_type_info(info.type)->block_bytes),
        row_order_(std::move(row_order)) {}

  void read_rows_f32(uint64_t first, uint64_t rows, float* out) const override {
    for (uint64_t r = 0; r < rows; ++r) ggml_dequantize_row(info_.type, row(first + r), out + r * row_elements_, row_elements_);
  }
  std::optional<quant::TensorType> stored_type() const override { return ggml_keep_type(info_.type); }
  void read_rows_stored(uint64_t first, uint64_t rows, std::byte* out) const override {
    const uint64_t out_row_bytes = *quant::row_bytes(*stored_type(), row_elements_);
    for (uint64_t r = 0; r < rows; ++r) {
      if (!ggml_keep_row(info_.type, row(first + r), out + r * out_row_bytes, row_elements_)) {
        throw Error(file_.path(), "tensor '" + info_.name + "': a Q4_0 scale too large to keep exactly; convert with --type q8");
      }
    }
  }
  void release_rows(uint64_t first, uint64_t rows) const override {
    if (row_order_.empty()) file_.release(uint64_t(row(first) - file_.mapping().data()), rows * row_bytes_);
  }
  std::string source_type() const override { return std::string(ggml_type_info(info_.type)->name); }

 private:
  const std::byte* row(uint64_t index) const {
    return data_ + (row_order_.empty() ? index : row_order_[index]) * row_bytes_;
  }

  const GgufFile& file_;
  const GgufTensorInfo& info_;
  const std::byte* data_;
  uint64_t row_elements_, row_bytes_;
  std::vector<uint64_t> row_order_;
};

uint32_t required_u32(const GgufFile& file, const std::string& key) {
  const std::optional<uint64_t> value = file.get_uint(key);
  if (!value) throw Error(file.path(), "missing key '" + key + "'");
  if (*value > UINT32_MAX) throw Error(file.path(), "key '" + key + "' is out of range: " + std::to_string(*value));
  return static_cast<uint32_t>(*value);
}

uint32_t optional_u32(const GgufFile& file, const std::string& key, uint32_t fallback) {
  return file.has(key) ? required_u32(file, key) : fallback;
}

// GGUF name of a canonical tensor and, for experts, the expert index within a 3-D tensor.
struct GgufLocation {
  std::string name;
  int64_t expert = -1;
  std::string per_expert_name;  // the older layout: one 2-D tensor per expert
};

GgufLocation gguf_location(const format::TensorSpec& spec) {
  if (spec.name == "token_embd") return {"token_embd.weight", -1, ""};
  if (spec.name == "output_norm") return {"output_norm.weight", -1, ""};
  if (spec.name == "output") return {"output.weight", -1, ""};
  const std::string block = "blk." + std::to_string(spec.layer) + ".";
  static const std::pair<const char*, const char*> kLayerNames[] = {
      {".attn_norm", "attn_norm.weight"}, {".ffn_norm", "ffn_norm.weight"}, {".attn.q", "attn_q.weight"},
      {".attn.k", "attn_k.weight"},       {".attn.v", "attn_v.weight"},     {".attn.o", "attn_output.weight"},
      {".router", "ffn_gate_inp.weight"},
  };
  for (const auto& [suffix, name] : kLayerNames) {
    if (spec.name.ends_with(suffix)) return {block + name, -1, ""};
  }
  const std::string matrix = spec.name.substr(spec.name.size() - 2);  // w1, w3, w2
  const char* kind = matrix == "w1" ? "gate" : matrix == "w3" ? "up" : "down";
  return {block + "ffn_" + kind + "_exps.weight", spec.expert,
          block + "ffn_" + kind + "." + std::to_string(spec.expert) + ".weight"};
}

}  // namespace

GgufCheckpoint GgufCheckpoint::open(const std::string& path) {
  GgufCheckpoint checkpoint;
  checkpoint.file_ = std::make_unique<GgufFile>(GgufFile::open(path));
  checkpoint.source_files_.push_back({path, checkpoint.file_->mapping().size()});
  checkpoint.read_hyperparameters();
  checkpoint.read_tokenizer();
  return checkpoint;
}

void GgufCheckpoint::read_hyperparameters() {
  const GgufFile& file = *file_;
  const std::optional<std::string> architecture = file.get_string("general.architecture");
  if (!architecture) throw Error(file.path(), "missing key 'general.architecture'");
  if (*architecture != "llama") {
    throw Error(file.path(), "architecture '" + *architecture + "' is not supported (Mixtral GGUFs use 'llama')");
  }
  const std::string a = "llama.";
  Hyperparameters& hp = hyperparameters_;
  hp.num_local_experts = optional_u32(file, a + "expert_count", 0);
  hp.num_experts_per_tok = optional_u32(file, a + "expert_used_count", 0);
  if (hp.num_local_experts == 0) {
    throw Error(file.path(), "no llama.expert_count: a dense model, not a mixture of experts (Mixtral)");
  }
  hp.hidden_size = required_u32(file, a + "embedding_length");
  hp.intermediate_size = required_u32(file, a + "feed_forward_length");
  hp.num_hidden_layers = required_u32(file, a + "block_count");
  hp.num_attention_heads = required_u32(file, a + "attention.head_count");
  hp.num_key_value_heads = optional_u32(file, a + "attention.head_count_kv", hp.num_attention_heads);
  if (hp.num_attention_heads == 0) throw Error(file.path(), "llama.attention.head_count is 0");
  hp.head_dim = optional_u32(file, a + "attention.key_length", hp.hidden_size / hp.num_attention_heads);
  if (optional_u32(file, a + "attention.value_length", hp.head_dim) != hp.head_dim) {
    throw Error(file.path(), "attention.value_length differs from key_length (not a Mixtral-type model)");
  }
  if (optional_u32(file, a + "rope.dimension_count", hp.head_dim) != hp.head_dim) {
    throw Error(file.path(), "partial RoPE (rope.dimension_count below the head size) is not supported");
  }
  hp.max_position_embeddings = optional_u32(file, a + "context_length", 32768);
  hp.sliding_window = 0;
  hp.rope_theta = file.get_float(a + "rope.freq_base").value_or(10000.0);
  hp.rms_norm_eps = file.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  const std::optional<std::vector<std::string>> tokens = file.get_string_array("tokenizer.ggml.tokens");
  hp.vocab_size = optional_u32(file, a + "vocab_size", tokens ? uint32_t(tokens->size()) : 0);
  hp.bos_token_id = optional_u32(file, "tokenizer.ggml.bos_token_id", 1);
  hp.eos_token_id = optional_u32(file, "tokenizer.ggml.eos_token_id", 2);
  format::validate_hyperparameters(hp, file.path());
}

void GgufCheckpoint::read_tokenizer() {
  const GgufFile& file = *file_;
  const std::optional<std::string> model = file.get_string("tokenizer.ggml.model");
  if (model != "llama") {
    throw Error(file.path(), "tokenizer.ggml.model is '" + model.value_or("(missing)") +
                                 "'; only SentencePiece ('llama') vocabularies are supported");
  }
  SentencePieceVocab vocab;
  vocab.pieces = file.get_string_array("tokenizer.ggml.tokens").value_or(std::vector<std::string>{});
  if (vocab.pieces.empty()) throw Error(file.path(), "missing tokenizer.ggml.tokens");
  vocab.scores = file.get_float_array("tokenizer.ggml.scores").value_or(std::vector<float>(vocab.pieces.size(), 0.0f));
  for (int64_t type : file.get_int_array("tokenizer.ggml.token_type").value_or(std::vector<int64_t>(vocab.pieces.size(), 1))) {
    if (type < 1 || type > 6) throw Error(file.path(), "tokenizer.ggml.token_type holds an unknown type " + std::to_string(type));
    vocab.types.push_back(static_cast<int32_t>(type));
  }
  if (vocab.scores.size() != vocab.pieces.size() || vocab.types.size() != vocab.pieces.size()) {
    throw Error(file.path(), "tokenizer.ggml.tokens, scores and token_type differ in length");
  }
  auto token_id = [&](const char* key, int64_t fallback) -> int32_t {
    const uint64_t id = file.get_uint(key).value_or(uint64_t(fallback));
    if (fallback >= 0 && id >= vocab.pieces.size()) {
      throw Error(file.path(), std::string(key) + " " + std::to_string(id) + " is outside the vocabulary");
    }
    return static_cast<int32_t>(id);
  };
  vocab.unk_id = token_id("tokenizer.ggml.unknown_token_id", 0);
  vocab.bos_id = token_id("tokenizer.ggml.bos_token_id", 1);
  vocab.eos_id = token_id("tokenizer.ggml.eos_token_id", 2);
  vocab.pad_id = file.has("tokenizer.ggml.padding_token_id") ? token_id("tokenizer.ggml.padding_token_id", 0) : -1;
  vocab.add_dummy_prefix = file.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  tokenizer_model_ = build_sentencepiece_model(vocab);
  check_tokenizer_model(file.path(), tokenizer_model_, hyperparameters_.vocab_size);
  chat_template_ = file.get_string("tokenizer.chat_template").value_or("");

  // GGUF's token list holds the added tokens too, typed CONTROL (special: "[INST]", often
  // "<|im_end|>") or USER_DEFINED (added words, still matched whole before SentencePiece, as
  // llama.cpp does); the rebuilt model keeps the types, and the added-token list names them.
  AddedTokens added(hyperparameters_.vocab_size);
  added.add_model_pieces(tokenizer_model_, file.path());
  tokenizer_config_.added_tokens = added.list();
  tokenizer_config_.end_ids = {vocab.eos_id};
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (!file.has(key)) continue;
    const std::optional<uint64_t> value = file.get_uint(key);
    if (!value || *value >= vocab.pieces.size()) throw Error(file.path(), std::string(key) + " is not a token id of the vocabulary");
    const auto id = static_cast<int32_t>(*value);
    if (std::find(tokenizer_config_.end_ids.begin(), tokenizer_config_.end_ids.end(), id) == tokenizer_config_.end_ids.end()) {
      tokenizer_config_.end_ids.push_back(id);
    }
  }
  const std::pair<const char*, int32_t> variables[] = {
      {"bos_token", vocab.bos_id}, {"eos_token", vocab.eos_id}, {"unk_token", vocab.unk_id}, {"pad_token", vocab.pad_id}};
  for (const auto& [name, id] : variables) {
    if (id >= 0 && !vocab.pieces[size_t(id)].empty()) template_variables_[name] = vocab.pieces[size_t(id)];
  }
  check_named_ids(tokenizer_config_, hyperparameters_, static_cast<int32_t>(vocab.pieces.size()), file.path());
}

std::unique_ptr<TensorSource> GgufCheckpoint::tensor_source(const format::TensorSpec& spec) const {
  const GgufFile& file = *file_;
  GgufLocation location = gguf_location(spec);
  const GgufTensorInfo* info = file.find_tensor(location.name);
  if (!info && spec.name == "output") info = file.find_tensor(location.name = "token_embd.weight");  // tied
  if (!info && location.expert >= 0) {
    info = file.find_tensor(location.per_expert_name);
    if (info) {
      location.name = location.per_expert_name;
      location.expert = -1;
    }
  }
  if (!info) throw Error(file.path(), "missing tensor '" + location.name + "'");
  // GGUF lists dimensions innermost first; the schema outermost first.
  std::vector<uint64_t> expected(spec.shape.rbegin(), spec.shape.rend());
  std::vector<uint64_t> actual = info->dims;
  if (location.expert >= 0) {
    if (actual.size() != 3 || actual[2] != hyperparameters_.num_local_experts) {
      throw Error(file.path(), "tensor '" + location.name + "' has dimensions " + shape_string(actual) +
                                   ", expected 3 with " + std::to_string(hyperparameters_.num_local_experts) + " experts last");
    }
    actual.pop_back();
  }
  while (actual.size() > expected.size() && actual.back() == 1) actual.pop_back();  // trailing 1s
  if (actual != expected) {
    throw Error(file.path(), "tensor '" + location.name + "' has dimensions " + shape_string(info->dims) +
                                 " but the hyperparameters imply " + shape_string(expected) + " (innermost first)");
  }
  if (!ggml_type_decodable(info->type)) {
    const auto traits = ggml_type_info(info->type);
    throw Error(file.path(), "tensor '" + location.name + "' has type " + std::string(traits ? traits->name : "unknown") +
                                 ", which this converter cannot decode (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                                 "Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  }
  const uint64_t row_elements = spec.shape.back();
  const auto traits = ggml_type_info(info->type);
  const uint64_t rows = spec.shape.size() == 2 ? spec.shape[0] : 1;
  const uint64_t matrix_bytes = rows * (row_elements / traits->block_elements) * traits->block_bytes;
  const uint64_t first_byte = info->offset + (location.expert >= 0 ? uint64_t(location.expert) * matrix_bytes : 0);
  std::vector<uint64_t> row_order;
  const Hyperparameters& hp = hyperparameters_;
  if (spec.name.ends_with(".attn.q")) row_order = interleaved_rope_rows(hp.num_attention_heads, hp.head_dim);
  if (spec.name.ends_with(".attn.k")) row_order = interleaved_rope_rows(hp.num_key_value_heads, hp.head_dim);
  return std::make_unique<GgufTensorSource>(file, *info, first_byte, row_elements, std::move(row_order));
}

}  // namespace smoe::convert
