// Importing the checkpoints people already have: the tiny model's GGUF files
// (llama.cpp's convert_hf_to_gguf output, f16 and Q8_0) and a Mistral-layout copy built here
// from the Hugging Face files, each against the transformers reference.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>

#include "convert/checkpoint.h"
#include "convert/convert_checkpoint.h"
#include "format/container.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"
#include "support/safetensors_builder.h"
#include "support/temp_dir.h"

using namespace smoe;

namespace {

std::shared_ptr<const Model> load(const std::string& path) { return test::load_for_comparison(path); }

float worst_logit_difference(const Model& model) {
  const test::Reference& reference = test::tiny_reference();
  float worst = 0;
  for (const nlohmann::json& prompt : reference.json["prompts"]) {
    auto session = model.create_session();
    const std::span<const float> logits = session->eval_all(prompt["ids"].get<std::vector<int32_t>>());
    const size_t offset = prompt["logits_offset_floats"];
    for (size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::fabs(logits[i] - reference.logits[offset + i]));
  }
  return worst;
}

void check_greedy(const Model& model) {
  for (const nlohmann::json& prompt : test::tiny_reference().json["prompts"]) {
    const std::vector<int32_t> expected = prompt["greedy_ids"].get<std::vector<int32_t>>();
    auto session = model.create_session();
    GenerateOptions options;
    options.max_tokens = int32_t(expected.size());
    options.sampler.temperature = 0.0f;
    options.sampler.repeat_penalty = 1.0f;
    INFO("prompt: " << prompt["text"].get<std::string>());
    CHECK(session->generate(prompt["ids"].get<std::vector<int32_t>>(), options, nullptr).tokens == expected);
  }
}

// Hugging Face tensor name -> Mistral's, and the RoPE row order Mistral stores Q and K in.
std::string mistral_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "tok_embeddings.weight";
  if (hf == "model.norm.weight") return "norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  std::string name = hf.substr(6);  // drop "model."
  const std::pair<const char*, const char*> replacements[] = {
      {"input_layernorm", "attention_norm"}, {"post_attention_layernorm", "ffn_norm"},
      {"self_attn.q_proj", "attention.wq"},   {"self_attn.k_proj", "attention.wk"},
      {"self_attn.v_proj", "attention.wv"},   {"self_attn.o_proj", "attention.wo"},
      {"block_sparse_moe.gate", "feed_forward.gate"}, {"block_sparse_moe.experts", "feed_forward.experts"},
  };
  for (const auto& [from, to] : replacements) {
    if (const size_t at = name.find(from); at != std::string::npos) name.replace(at, std::strlen(from), to);
  }
  return name;
}

// Writes a Mistral-layout copy of the tiny model into `dir` (params.json, tokenizer.model,
// consolidated.safetensors with renamed tensors and Q/K rows interleaved per head).
void write_mistral_layout(const test::TempDir& dir) {
  const std::string source = test::tiny_model_dir();
  const std::vector<char> config_text = test::read_file(source + "/config.json");
  const nlohmann::json config = nlohmann::json::parse(config_text.begin(), config_text.end());
  const uint64_t heads = config["num_attention_heads"], kv_heads = config["num_key_value_heads"];
  const uint64_t head_dim = config["head_dim"];
  const nlohmann::json params = {
      {"dim", config["hidden_size"]},       {"n_layers", config["num_hidden_layers"]}, {"head_dim", head_dim},
      {"hidden_dim", config["intermediate_size"]}, {"n_heads", heads}, {"n_kv_heads", kv_heads},
      {"norm_eps", config["rms_norm_eps"]}, {"vocab_size", config["vocab_size"]},
      {"rope_theta", config.value("rope_theta", config.contains("rope_parameters") ? config["rope_parameters"].value("rope_theta", 1e6) : 1e6)},
      {"moe", {{"num_experts", config["num_local_experts"]}, {"num_experts_per_tok", config["num_experts_per_tok"]}}}};
  test::write_text(dir.file("params.json"), params.dump());
  std::filesystem::copy_file(source + "/tokenizer.model", dir.file("tokenizer.model"));

  const test::RawSafetensors hf = test::read_raw_safetensors(source + "/model.safetensors");
  test::RawSafetensors mistral;
  for (const auto& [name, entry] : hf.header.items()) {
    if (name == "__metadata__") continue;
    const uint64_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    std::vector<char> bytes(hf.data.begin() + long(begin), hf.data.begin() + long(end));
    const bool is_q = name.find("q_proj") != std::string::npos, is_k = name.find("k_proj") != std::string::npos;
    if (is_q || is_k) {  // stored row h*hd + 2i + j holds Hugging Face row h*hd + j*hd/2 + i
      const uint64_t row_bytes = bytes.size() / ((is_q ? heads : kv_heads) * head_dim);
      const std::vector<uint64_t> order = convert::interleaved_rope_rows(is_q ? heads : kv_heads, head_dim);
      std::vector<char> stored(bytes.size());
      for (uint64_t hf_row = 0; hf_row < order.size(); ++hf_row) {
        std::memcpy(&stored[order[hf_row] * row_bytes], &bytes[hf_row * row_bytes], row_bytes);
      }
      bytes = stored;
    }
    nlohmann::json moved = entry;
    moved["data_offsets"] = {mistral.data.size(), mistral.data.size() + bytes.size()};
    mistral.header[mistral_name(name)] = moved;
    mistral.data.insert(mistral.data.end(), bytes.begin(), bytes.end());
  }
  test::write_raw_safetensors(dir.file("consolidated.safetensors"), mistral);
}

}  // namespace

TEST_CASE("the tiny model's f16 GGUF reproduces the reference logits and greedy text", "[golden][import][gguf]") {
  const auto model = load(test::tiny_container_from("mixtral-tiny-f16.gguf", "keep"));
  const float worst = worst_logit_difference(*model);
  INFO("worst |logit diff| " << worst);
  CHECK(worst <= 2e-2f);  // the weights went through f16
  check_greedy(*model);
  CHECK(format::Container::open(model->info().path).metadata().recipe["type"] == "keep");
}

TEST_CASE("a GGUF tokenizer rebuilt as SentencePiece matches the reference ids", "[golden][import][gguf][tokenizer]") {
  const auto model = load(test::tiny_container_from("mixtral-tiny-q8_0.gguf", "keep"));
  const Tokenizer& tokenizer = model->tokenizer();
  for (const nlohmann::json& item : test::tiny_reference().json["tokenizer_cases"]) {
    const std::string text = item["text"];
    INFO("text: " << text);
    CHECK(tokenizer.encode(text, false) == item["ids"].get<std::vector<int32_t>>());
    CHECK(tokenizer.decode(item["ids"].get<std::vector<int32_t>>()) == text);
  }
  const std::vector<ChatMessage> chat = {{"user", "Hello"}};
  CHECK(model->tokenize_chat(chat) == tokenizer.encode("[INST] Hello [/INST]", true));
}

TEST_CASE("Q8_0 GGUF with --type keep keeps the blocks and the perplexity", "[golden][import][gguf][perplexity]") {
  const std::string path = test::tiny_container_from("mixtral-tiny-q8_0.gguf", "keep");
  const format::Container container = format::Container::open(path);
  for (const format::TensorView& tensor : container.tensors()) {
    if (tensor.name == "tokenizer.model") continue;
    const bool exact = tensor.name.ends_with("norm") || tensor.name.ends_with("router");
    INFO(tensor.name);
    CHECK(tensor.type == (exact ? quant::TensorType::f32 : quant::TensorType::q8));
  }
  const double keep_ppl = std::exp(test::mean_nll(*load(path)));
  const double f32_ppl = std::exp(test::mean_nll(*load(test::tiny_container("f32"))));
  INFO("Q8_0 keep PPL " << keep_ppl << " f32 " << f32_ppl);
  CHECK(std::fabs(keep_ppl / f32_ppl - 1) <= 0.001);
}

TEST_CASE("a Mistral-layout release converts to exactly the Hugging Face path's tensors", "[golden][import][mistral]") {
  test::TempDir dir;
  write_mistral_layout(dir);
  const std::string mistral_path = dir.file("mistral.smoe");
  convert::ConvertOptions options;
  options.input = dir.path().string();
  options.output = mistral_path;
  options.recipe = convert::make_recipe("bf16");
  options.hash_sources = false;
  convert::convert_checkpoint(options);
  const format::Container mistral = format::Container::open(mistral_path);
  const format::Container hf = format::Container::open(test::tiny_container("bf16"));
  CHECK(mistral.metadata().provenance["source_format"] == "mistral");
  REQUIRE(mistral.tensors().size() == hf.tensors().size());
  for (const format::TensorView& tensor : hf.tensors()) {
    INFO(tensor.name);
    CHECK(mistral.require(tensor.name).checksum == tensor.checksum);
  }
  const auto model = load(mistral_path);
  CHECK(worst_logit_difference(*model) <= 1e-3f);
  check_greedy(*model);
}

TEST_CASE("a Mistral release holding only a .pth pickle is refused with advice", "[import][mistral][bad_input]") {
  test::TempDir dir;
  write_mistral_layout(dir);
  std::filesystem::rename(dir.file("consolidated.safetensors"), dir.file("consolidated.00.pth"));
  convert::ConvertOptions options;
  options.input = dir.path().string();
  options.output = dir.file("x.smoe");
  CHECK_THROWS_WITH(convert::convert_checkpoint(options),
                    Catch::Contains("consolidated.00.pth") && Catch::Contains("pickle") && Catch::Contains("safetensors"));
  CHECK_FALSE(std::filesystem::exists(dir.file("x.smoe")));
}

TEST_CASE("GGUF files that are valid GGUF but not a usable Mixtral are refused by name", "[import][gguf][bad_input]") {
  const std::vector<char> original = test::read_file(test::tiny_model_dir() + "/mixtral-tiny-q8_0.gguf");
  // Each case rewrites bytes of the real file in place (same length), so the GGUF stays valid.
  auto replace = [](std::vector<char> bytes, const std::string& from, const std::string& to) {
    const auto at = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
    REQUIRE(at != bytes.end());
    std::copy(to.begin(), to.end(), at);
    return bytes;
  };
  auto set_u32_value = [](std::vector<char> bytes, const std::string& key, uint32_t value) {
    const auto at = std::search(bytes.begin(), bytes.end(), key.begin(), key.end());
    REQUIRE(at != bytes.end());
    std::memcpy(&*(at + long(key.size()) + 4), &value, 4);  // after the key: u32 value type, then the value
    return bytes;
  };
  const struct {
    const char* what;
    std::vector<char> bytes;
    const char* message;
  } cases[] = {
      {"another architecture", replace(original, std::string("general.architecture\x08\0\0\0\x05\0\0\0\0\0\0\0llama", 37),
                                       std::string("general.architecture\x08\0\0\0\x05\0\0\0\0\0\0\0qwen2", 37)),
       "architecture 'qwen2' is not supported"},
      {"no expert count (a dense model)", replace(original, "llama.expert_count", "llama.expert_xount"), "not a mixture of experts"},
      {"a missing tensor", replace(original, "blk.0.attn_q.weight", "blk.0.attn_Q.weight"), "missing tensor 'blk.0.attn_q.weight'"},
      {"no vocabulary", replace(original, "tokenizer.ggml.tokens", "tokenizer.ggml.tokenz"), "missing tokenizer.ggml.tokens"},
      {"hyperparameters that disagree with the tensors", set_u32_value(original, "llama.feed_forward_length", 512),
       "but the hyperparameters imply"},
      {"a BOS id outside the vocabulary", set_u32_value(original, "tokenizer.ggml.bos_token_id", 99999), "outside the vocabulary"},
  };
  for (const auto& bad : cases) {
    test::TempDir dir;
    const std::string path = dir.file("bad.gguf");
    std::ofstream(path, std::ios::binary).write(bad.bytes.data(), std::streamsize(bad.bytes.size()));
    convert::ConvertOptions options;
    options.input = path;
    options.output = dir.file("out.smoe");
    INFO(bad.what);
    CHECK_THROWS_WITH(convert::convert_checkpoint(options), Catch::Contains("bad.gguf") && Catch::Contains(bad.message));
    CHECK_FALSE(std::filesystem::exists(options.output));
  }
}
