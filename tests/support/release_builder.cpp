// Writing tiny random Mixtral releases (Hugging Face, GGUF, Mistral) around a given vocabulary.
#include "support/release_builder.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "convert/hf_checkpoint.h"
#include "convert/mistral_checkpoint.h"
#include "format/tensor_schema.h"
#include "support/gguf_builder.h"
#include "support/random_values.h"
#include "support/safetensors_builder.h"
#include "support/temp_dir.h"

namespace smoe::test {
namespace fs = std::filesystem;

const std::vector<std::string> kV3ControlTokens = {"[INST]",         "[/INST]",       "[TOOL_CALLS]",   "[AVAILABLE_TOOLS]",
                                                   "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"};

namespace {

// The SentencePiece ModelProto at the wire level, written here rather than with the converter's
// code so the fixtures do not depend on what they test: ModelProto.pieces = 1;
// SentencePiece.piece = 1 (bytes), score = 2 (float), type = 3 (enum).
struct WireField {
  uint64_t key = 0;
  std::string_view payload;  // a length-delimited field's bytes
  std::string_view whole;    // the field as stored, key included
};

uint64_t read_varint(std::string_view bytes, size_t& at) {
  uint64_t value = 0;
  for (int shift = 0; at < bytes.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(bytes[at++]);
    value |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("truncated varint in a SentencePiece model");
}

std::vector<WireField> wire_fields(std::string_view bytes) {
  std::vector<WireField> fields;
  for (size_t at = 0; at < bytes.size();) {
    const size_t start = at;
    WireField field;
    field.key = read_varint(bytes, at);
    switch (field.key & 7) {
      case 0: read_varint(bytes, at); break;
      case 1: at += 8; break;
      case 5: at += 4; break;
      case 2: {
        const uint64_t size = read_varint(bytes, at);
        field.payload = bytes.substr(at, size);
        at += size;
        break;
      }
      default: throw std::runtime_error("unknown wire type in a SentencePiece model");
    }
    if (at > bytes.size()) throw std::runtime_error("truncated SentencePiece model");
    field.whole = bytes.substr(start, at - start);
    fields.push_back(field);
  }
  return fields;
}

void put_varint(std::string& out, uint64_t value) {
  for (; value >= 0x80; value >>= 7) out.push_back(static_cast<char>((value & 0x7f) | 0x80));
  out.push_back(static_cast<char>(value));
}

std::string piece_record(const std::string& text, float score, int32_t type) {
  std::string piece;
  put_varint(piece, (1 << 3) | 2);
  put_varint(piece, text.size());
  piece += text;
  put_varint(piece, (2 << 3) | 5);
  piece.append(reinterpret_cast<const char*>(&score), 4);
  put_varint(piece, 3 << 3);
  put_varint(piece, uint64_t(type));
  std::string record;
  put_varint(record, (1 << 3) | 2);
  put_varint(record, piece.size());
  return record + piece;
}

// Hugging Face names of every tensor with its shape (outermost first) and random f32 values.
RawSafetensors random_weights(const Hyperparameters& hp, std::string (*released_name)(const std::string&),
                              const WeightEdit& edit = {}) {
  RawSafetensors file;
  uint32_t seed = 1;
  for (const format::TensorSpec& spec : format::mixtral_tensor_specs(hp)) {
    uint64_t elements = 1;
    for (uint64_t dim : spec.shape) elements *= dim;
    const bool norm = spec.shape.size() == 1;
    std::vector<float> values = normal_values(elements, 0.05f, seed++);
    if (norm) values.assign(elements, 1.0f);
    if (edit) edit(spec.name, values);
    const size_t begin = file.data.size();
    file.data.resize(begin + elements * 4);
    std::memcpy(file.data.data() + begin, values.data(), elements * 4);
    file.header[released_name(spec.name)] = {{"dtype", "F32"}, {"shape", spec.shape}, {"data_offsets", {begin, file.data.size()}}};
  }
  return file;
}

uint32_t piece_count(const std::string& tokenizer_model) {
  uint32_t count = 0;
  for (const WireField& field : wire_fields(tokenizer_model)) count += field.key == ((1 << 3) | 2);
  return count;
}

}  // namespace

std::string tiny_tokenizer_model() {
  const std::vector<char> bytes = read_file(tiny_model_dir() + "/tokenizer.model");
  return {bytes.begin(), bytes.end()};
}

std::string v3_tokenizer_model() {
  const std::string original = tiny_tokenizer_model();
  std::string model;
  int pieces_seen = 0;
  for (const WireField& field : wire_fields(original)) {
    model += field.whole;
    if (field.key == ((1 << 3) | 2) && ++pieces_seen == 3) {  // after <unk>, <s>, </s>
      for (const std::string& text : kV3ControlTokens) model += piece_record(text, 0.0f, 3);
    }
  }
  return model;
}

std::string padded_tokenizer_model(uint32_t total_pieces) {
  const std::string original = tiny_tokenizer_model();
  const uint32_t original_count = piece_count(original);
  if (total_pieces < original_count) {
    throw std::invalid_argument("padded_tokenizer_model: fewer pieces than the tiny model's");
  }
  std::string padding;
  for (uint32_t i = 1; i <= total_pieces - original_count; ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "\xe2\x96\x81zzq%05u", i);  // "▁zzq00001"
    padding += piece_record(text, -1e6f - float(i), 1);
  }
  std::string model;
  uint32_t pieces_seen = 0;
  for (const WireField& field : wire_fields(original)) {
    model += field.whole;
    if (field.key == ((1 << 3) | 2) && ++pieces_seen == original_count) model += padding;  // after the last piece
  }
  return model;
}

Hyperparameters tiny_release_hyperparameters(uint32_t vocab_size) {
  Hyperparameters hp;
  hp.hidden_size = 64;
  hp.intermediate_size = 128;
  hp.num_hidden_layers = 1;
  hp.num_attention_heads = 4;
  hp.num_key_value_heads = 2;
  hp.head_dim = 16;
  hp.num_local_experts = 4;
  hp.num_experts_per_tok = 2;
  hp.vocab_size = vocab_size;
  hp.max_position_embeddings = 512;
  return hp;
}

void write_hf_release(const fs::path& dir, const HfRelease& release) {
  const uint32_t vocab_size = release.vocab_size ? release.vocab_size : piece_count(release.tokenizer_model);
  const Hyperparameters hp = tiny_release_hyperparameters(vocab_size);
  nlohmann::json config = {
      {"model_type", "mixtral"}, {"hidden_size", hp.hidden_size}, {"intermediate_size", hp.intermediate_size},
      {"num_hidden_layers", hp.num_hidden_layers}, {"num_attention_heads", hp.num_attention_heads},
      {"num_key_value_heads", hp.num_key_value_heads}, {"head_dim", hp.head_dim},
      {"num_local_experts", hp.num_local_experts}, {"num_experts_per_tok", hp.num_experts_per_tok},
      {"vocab_size", vocab_size}, {"max_position_embeddings", hp.max_position_embeddings},
      {"bos_token_id", 1}, {"eos_token_id", 2}, {"rope_theta", 1e6}, {"rms_norm_eps", 1e-5}};
  config.update(release.config);
  write_text((dir / "config.json").string(), config.dump(2));
  write_text((dir / "tokenizer.model").string(), release.tokenizer_model);
  nlohmann::json tokenizer_config = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  if (!release.chat_template.empty()) tokenizer_config["chat_template"] = release.chat_template;
  write_text((dir / "tokenizer_config.json").string(), tokenizer_config.dump(2));
  for (const auto& [name, contents] : release.files) write_text((dir / name).string(), contents);
  write_raw_safetensors((dir / "model.safetensors").string(), random_weights(hp, convert::hf_tensor_name, release.edit_weights));
}

GgufVocab gguf_vocab_of(const std::string& tokenizer_model) {
  GgufVocab vocab;
  for (const WireField& field : wire_fields(tokenizer_model)) {
    if (field.key != ((1 << 3) | 2)) continue;
    std::string text;
    float score = 0;
    int32_t type = 1;
    for (const WireField& piece_field : wire_fields(field.payload)) {
      if (piece_field.key == ((1 << 3) | 2)) text = std::string(piece_field.payload);
      if (piece_field.key == ((2 << 3) | 5)) std::memcpy(&score, piece_field.whole.data() + 1, 4);
      if (piece_field.key == (3 << 3)) {
        size_t at = 1;
        type = static_cast<int32_t>(read_varint(piece_field.whole, at));
      }
    }
    vocab.tokens.push_back(text);
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
  }
  return vocab;
}

void write_gguf_release(const std::string& path, const GgufVocab& vocab, uint32_t vocab_size,
                        const WeightEdit& edit_weights) {
  const Hyperparameters hp = tiny_release_hyperparameters(vocab_size);
  GgufBuilder gguf;
  gguf.add_string("general.architecture", "llama")
      .add_u32("llama.block_count", hp.num_hidden_layers)
      .add_u32("llama.context_length", hp.max_position_embeddings)
      .add_u32("llama.embedding_length", hp.hidden_size)
      .add_u32("llama.feed_forward_length", hp.intermediate_size)
      .add_u32("llama.attention.head_count", hp.num_attention_heads)
      .add_u32("llama.attention.head_count_kv", hp.num_key_value_heads)
      .add_f32("llama.rope.freq_base", 1e6f)
      .add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .add_u32("llama.expert_count", hp.num_local_experts)
      .add_u32("llama.expert_used_count", hp.num_experts_per_tok)
      .add_u32("llama.vocab_size", vocab_size)
      .add_string("tokenizer.ggml.model", "llama")
      .add_string_array("tokenizer.ggml.tokens", vocab.tokens)
      .add_f32_array("tokenizer.ggml.scores", vocab.scores)
      .add_i32_array("tokenizer.ggml.token_type", vocab.types)
      .add_u32("tokenizer.ggml.bos_token_id", vocab.bos_id)
      .add_u32("tokenizer.ggml.eos_token_id", vocab.eos_id)
      .add_u32("tokenizer.ggml.unknown_token_id", vocab.unk_id);
  if (vocab.eot_id >= 0) gguf.add_u32("tokenizer.ggml.eot_token_id", uint32_t(vocab.eot_id));
  if (!vocab.chat_template.empty()) gguf.add_string("tokenizer.chat_template", vocab.chat_template);
  const RawSafetensors weights = random_weights(hp, [](const std::string& name) { return name; }, edit_weights);
  for (const format::TensorSpec& spec : format::mixtral_tensor_specs(hp)) {
    std::string name;
    if (spec.name == "token_embd" || spec.name == "output_norm" || spec.name == "output") {
      name = spec.name + ".weight";
    } else {
      const std::string block = "blk." + std::to_string(spec.layer) + ".";
      const std::pair<const char*, const char*> layer_names[] = {
          {".attn_norm", "attn_norm"}, {".ffn_norm", "ffn_norm"}, {".attn.q", "attn_q"}, {".attn.k", "attn_k"},
          {".attn.v", "attn_v"},       {".attn.o", "attn_output"}, {".router", "ffn_gate_inp"},
          {".w1", "ffn_gate"},         {".w3", "ffn_up"},          {".w2", "ffn_down"}};
      for (const auto& [suffix, gguf_name] : layer_names) {
        if (!spec.name.ends_with(suffix)) continue;
        name = block + gguf_name + (spec.expert >= 0 ? "." + std::to_string(spec.expert) : "") + ".weight";
      }
    }
    const nlohmann::json& entry = weights.header[spec.name];
    const uint64_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    GgufBuilder::Tensor& tensor = gguf.add_tensor(name, std::vector<uint64_t>(spec.shape.rbegin(), spec.shape.rend()), 0);
    tensor.data.assign(weights.data.begin() + long(begin), weights.data.begin() + long(end));
  }
  gguf.write(path);
}

void write_mistral_release(const fs::path& dir, const std::string& tokenizer_model, const std::string& tokenizer_name,
                           uint32_t vocab_size) {
  const Hyperparameters hp = tiny_release_hyperparameters(vocab_size);
  const nlohmann::json params = {
      {"dim", hp.hidden_size},       {"n_layers", hp.num_hidden_layers}, {"head_dim", hp.head_dim},
      {"hidden_dim", hp.intermediate_size}, {"n_heads", hp.num_attention_heads}, {"n_kv_heads", hp.num_key_value_heads},
      {"norm_eps", 1e-5},            {"vocab_size", vocab_size},         {"rope_theta", 1e6},
      {"max_seq_len", hp.max_position_embeddings},
      {"moe", {{"num_experts", hp.num_local_experts}, {"num_experts_per_tok", hp.num_experts_per_tok}}}};
  write_text((dir / "params.json").string(), params.dump(2));
  if (!tokenizer_name.empty()) write_text((dir / tokenizer_name).string(), tokenizer_model);
  write_raw_safetensors((dir / "consolidated.safetensors").string(), random_weights(hp, convert::mistral_tensor_name));
}

}  // namespace smoe::test
