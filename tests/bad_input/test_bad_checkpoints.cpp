// The converter's bad-input catalogue: every broken checkpoint gets a smoe::Error naming the
// file and the problem, and no output file (not even a temporary one) is left behind.
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "convert/convert_checkpoint.h"
#include "smoe/error.h"
#include "support/safetensors_builder.h"
#include "support/temp_dir.h"

using namespace smoe;
namespace fs = std::filesystem;

namespace {

struct BadCheckpoint {
  const char* name;
  std::function<void(const test::TempDir&)> break_it;  // edits a linked copy of the tiny model
  std::vector<std::string> expected;                     // substrings of the error message
};

std::string tiny(const char* file) { return test::tiny_model_dir() + "/" + file; }

void replace_file(const test::TempDir& dir, const char* name, const std::string& contents) {
  fs::remove(dir.path() / name);
  test::write_text(dir.file(name), contents);
}

void edit_config(const test::TempDir& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = nlohmann::json::parse(test::read_file(tiny("config.json")));
  edit(config);
  replace_file(dir, "config.json", config.dump());
}

void edit_safetensors(const test::TempDir& dir, const std::function<void(test::RawSafetensors&)>& edit,
                      std::optional<uint64_t> declared_header_bytes = std::nullopt) {
  test::RawSafetensors file = test::read_raw_safetensors(tiny("model.safetensors"));
  edit(file);
  fs::remove(dir.path() / "model.safetensors");
  test::write_raw_safetensors(dir.file("model.safetensors"), file, declared_header_bytes);
}

const char* kRouter0 = "model.layers.0.block_sparse_moe.gate.weight";
const char* kRouter1 = "model.layers.1.block_sparse_moe.gate.weight";
const char* kExpert = "model.layers.1.block_sparse_moe.experts.3.w2.weight";

std::vector<BadCheckpoint> catalogue() {
  return {
      {"missing config.json", [](auto& d) { fs::remove(d.path() / "config.json"); }, {"config.json", "missing"}},
      {"malformed config.json",
       [](auto& d) { replace_file(d, "config.json", "{\"hidden_size\": 128,"); },
       {"config.json", "malformed JSON"}},
      {"config field of the wrong type",
       [](auto& d) { edit_config(d, [](auto& c) { c["hidden_size"] = "wide"; }); },
       {"config.json", "hidden_size"}},
      {"config without a required field",
       [](auto& d) { edit_config(d, [](auto& c) { c.erase("num_hidden_layers"); }); },
       {"config.json", "num_hidden_layers"}},
      {"config of another architecture",
       [](auto& d) { edit_config(d, [](auto& c) { c["model_type"] = "llama"; }); },
       {"config.json", "mixtral"}},
      // Fields of the wrong JSON type (found by fuzz_config: nlohmann's value() threw its own
      // type_error, uncaught).
      {"model_type that is not a string",
       [](auto& d) { edit_config(d, [](auto& c) { c["model_type"] = 7; }); },
       {"config.json", "model_type"}},
      {"hidden_act that is not a string",
       [](auto& d) { edit_config(d, [](auto& c) {
                       c["hidden_act"] = {1, 2};
                     }); },
       {"config.json", "hidden_act"}},
      {"tie_word_embeddings that is not a boolean",
       [](auto& d) { edit_config(d, [](auto& c) { c["tie_word_embeddings"] = "no"; }); },
       {"config.json", "tie_word_embeddings"}},
      {"rope_type that is not a string",
       [](auto& d) { edit_config(d, [](auto& c) {
                       c["rope_parameters"] = {{"rope_type", 3}};
                     }); },
       {"config.json", "rope_type"}},
      {"zero hidden size",
       [](auto& d) { edit_config(d, [](auto& c) { c["hidden_size"] = 0; }); },
       {"config.json", "hidden_size"}},
      {"more experts per token than experts",
       [](auto& d) { edit_config(d, [](auto& c) { c["num_experts_per_tok"] = 9; }); },
       {"config.json", "num_experts_per_tok"}},
      {"absurd vocabulary",
       [](auto& d) { edit_config(d, [](auto& c) { c["vocab_size"] = 4000000000u; }); },
       {"config.json", "vocab_size"}},
      {"config disagrees with tensor shapes",
       [](auto& d) { edit_config(d, [](auto& c) { c["intermediate_size"] = 512; }); },
       {"model.safetensors", "shape", "config.json implies"}},
      {"missing tensor",
       [](auto& d) { edit_safetensors(d, [](auto& f) { f.header.erase(kExpert); }); },
       {"missing tensor", kExpert}},
      {"missing shard",
       [](auto& d) {
         fs::remove(d.path() / "model.safetensors");
         test::write_text(d.file("model.safetensors.index.json"),
                          R"({"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}})");
       },
       {"model-00001-of-00002.safetensors", "missing shard"}},
      {"shard name that escapes the directory",
       [](auto& d) {
         fs::remove(d.path() / "model.safetensors");
         test::write_text(d.file("model.safetensors.index.json"), R"({"weight_map": {"lm_head.weight": "../x.safetensors"}})");
       },
       {"model.safetensors.index.json", "not a plain file name"}},
      {"no weights at all", [](auto& d) { fs::remove(d.path() / "model.safetensors"); }, {"no model.safetensors"}},
      {"safetensors header longer than the file",
       [](auto& d) {
         edit_safetensors(
             d, [](auto&) {}, 1ull << 27 >> 3);
       },
       {"model.safetensors", "past the end of the file"}},
      {"absurd safetensors header length",
       [](auto& d) {
         edit_safetensors(
             d, [](auto&) {}, 1ull << 62);
       },
       {"model.safetensors", "exceeds"}},
      {"truncated safetensors",
       [](auto& d) { replace_file(d, "model.safetensors", "abc"); },
       {"model.safetensors", "truncated"}},
      {"safetensors header that is not JSON",
       [](auto& d) { replace_file(d, "model.safetensors", std::string("\x04\0\0\0\0\0\0\0{{{{", 12)); },
       {"model.safetensors", "not a JSON object"}},
      {"tensor offsets out of range",
       [](auto& d) { edit_safetensors(d, [](auto& f) {
                       f.header[kRouter0]["data_offsets"] = {0, 1ull << 40};
                     }); },
       {"model.safetensors", kRouter0, "outside the data section"}},
      {"tensor offsets reversed",
       [](auto& d) { edit_safetensors(d, [](auto& f) {
                       f.header[kRouter0]["data_offsets"] = {4096, 2048};
                     }); },
       {"model.safetensors", kRouter0, "outside the data section"}},
      {"overlapping tensors",
       [](auto& d) {
         edit_safetensors(d, [](auto& f) { f.header[kRouter0]["data_offsets"] = f.header[kRouter1]["data_offsets"]; });
       },
       {"model.safetensors", "overlap"}},
      {"byte size that does not match dtype and shape",
       [](auto& d) { edit_safetensors(d, [](auto& f) {
                       f.header[kRouter0]["shape"] = {8, 64};
                     }); },
       {"model.safetensors", kRouter0, "need"}},
      {"negative dimension",
       [](auto& d) { edit_safetensors(d, [](auto& f) {
                       f.header[kRouter0]["shape"] = {-8, 128};
                     }); },
       {"model.safetensors", kRouter0, "dimension"}},
      {"unsupported dtype",
       [](auto& d) { edit_safetensors(d, [](auto& f) { f.header[kRouter0]["dtype"] = "I16"; }); },
       {"model.safetensors", kRouter0, "unsupported dtype I16"}},
      {"corrupt tokenizer.model",
       [](auto& d) { replace_file(d, "tokenizer.model", "this is not a protobuf"); },
       {"tokenizer.model", "SentencePiece"}},
      {"missing tokenizer.model",
       [](auto& d) { fs::remove(d.path() / "tokenizer.model"); },
       {"tokenizer.model", "missing"}},
      {"malformed tokenizer_config.json",
       [](auto& d) { replace_file(d, "tokenizer_config.json", "[1,2"); },
       {"tokenizer_config.json", "malformed JSON"}},
  };
}

}  // namespace

TEST_CASE("bad checkpoints are refused with the file and the problem named", "[bad_input][convert]") {
  for (const BadCheckpoint& bad : catalogue()) {
    SECTION(bad.name) {
      test::TempDir input;
      test::link_tiny_model(input);
      bad.break_it(input);
      test::TempDir output;
      convert::ConvertOptions options;
      options.input = input.path().string();
      options.output = output.file("out.smoe");
      options.hash_sources = false;
      std::string message;
      try {
        convert::convert_checkpoint(options);
      } catch (const Error& error) {
        message = error.what();
      }
      INFO("message: " << message);
      REQUIRE_FALSE(message.empty());
      for (const std::string& part : bad.expected) CHECK_THAT(message, Catch::Contains(part));
      CHECK(output.entries().empty());
    }
  }
}

TEST_CASE("an output path that cannot be written is an error, with nothing left behind", "[bad_input][convert]") {
  test::TempDir output;
  convert::ConvertOptions options;
  options.input = test::tiny_model_dir();
  options.hash_sources = false;
  SECTION("directory does not exist") {
    options.output = output.file("no/such/dir/out.smoe");
    CHECK_THROWS_WITH(convert::convert_checkpoint(options), Catch::Contains("no/such/dir/out.smoe") && Catch::Contains("cannot create"));
  }
  SECTION("output is a directory") {
    fs::create_directory(output.path() / "taken");
    options.output = output.file("taken");
    CHECK_THROWS_WITH(convert::convert_checkpoint(options), Catch::Contains("is a directory"));
    fs::remove(output.path() / "taken");
  }
  CHECK(output.entries().empty());
}

TEST_CASE("an input that does not exist is an error naming it", "[bad_input][convert]") {
  convert::ConvertOptions options;
  options.input = "/no/such/checkpoint";
  options.output = "/tmp/never-written.smoe";
  CHECK_THROWS_WITH(convert::convert_checkpoint(options), Catch::Contains("/no/such/checkpoint"));
  CHECK_FALSE(fs::exists(options.output));
}
