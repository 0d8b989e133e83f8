// Special and added tokens from every input format: tiny random releases around a v1, a v3 and
// a ChatML vocabulary are converted and loaded, and Tokenizer::encode_with_special / decode of
// rendered chat texts are compared with tests/support/tokenize_reference.py (Python's
// sentencepiece, with the special strings the release defines matched leftmost-longest).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>

#include "convert/convert_checkpoint.h"
#include "convert/inspect.h"
#include "format/container.h"
#include "smoe/chat.h"
#include "smoe/error.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/release_builder.h"
#include "support/temp_dir.h"

using namespace smoe;
namespace fs = std::filesystem;

namespace {

// What a release defines, written down by the test (not read back from the converter).
struct ExpectedToken {
  int32_t id;
  std::string text;
  bool special;
};

const std::vector<ExpectedToken> kV1Tokens = {{0, "<unk>", true}, {1, "<s>", true}, {2, "</s>", true}};

std::vector<ExpectedToken> v3_tokens() {
  std::vector<ExpectedToken> tokens = kV1Tokens;
  for (size_t i = 0; i < test::kV3ControlTokens.size(); ++i) tokens.push_back({int32_t(3 + i), test::kV3ControlTokens[i], true});
  return tokens;
}

// <|im_end|> at `im_end_id`, <|im_start|> after it.
std::vector<ExpectedToken> chatml_tokens(bool im_start_special = true, int32_t im_end_id = 4096) {
  std::vector<ExpectedToken> tokens = kV1Tokens;
  tokens.push_back({im_end_id, "<|im_end|>", true});
  tokens.push_back({im_end_id + 1, "<|im_start|>", im_start_special});
  return tokens;
}

// Rendered chat texts and edge cases: specials back to back, only specials, partial specials, empty.
const std::vector<std::string> kTexts = {
    "<s>[INST] Hello [/INST]",
    "<s>[INST] Hello [/INST] Hi there!</s>[INST] How are you? [/INST]",
    "<s>[INST] Hello[/INST]",
    "<s>[AVAILABLE_TOOLS] [{\"type\": \"function\"}][/AVAILABLE_TOOLS][INST] Weather?[/INST][TOOL_CALLS] []</s>",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|><|im_start|>",
    "[INST][/INST][TOOL_CALLS][TOOL_RESULTS][/TOOL_RESULTS]",
    "<s></s>",
    "<s>",
    "",
    "plain text, no specials: caf\xc3\xa9 \xe2\x9c\x93",
    "<|im_end <<s>> [INST [/INST]]",
    "  leading spaces<s>  and after  ",
};

std::string reference_script() { return std::string(SMOE_TEST_DATA_DIR) + "/../support/tokenize_reference.py"; }

// The reference's ids and decodings of `texts` under `tokens` and the SentencePiece model at `model_path`.
nlohmann::json python_reference(const test::TempDir& dir, const std::string& model_path,
                                 const std::vector<ExpectedToken>& tokens, const std::vector<std::string>& texts) {
  nlohmann::json request = {{"model", model_path}, {"texts", texts}, {"tokens", nlohmann::json::array()}};
  for (const ExpectedToken& token : tokens) {
    request["tokens"].push_back({{"id", token.id}, {"text", token.text}, {"special", token.special}});
  }
  const std::string request_path = dir.file("reference_request.json");
  test::write_text(request_path, request.dump());
  const std::string command = "/usr/bin/python3 '" + reference_script() + "' '" + request_path + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  REQUIRE(pipe);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe.release());
  INFO(command << "\n" << output);
  REQUIRE(status == 0);
  return nlohmann::json::parse(output);
}

std::string convert_release(const std::string& input, const test::TempDir& dir, const std::string& name = "model.smoe") {
  convert::ConvertOptions options;
  options.input = input;
  options.output = dir.file(name);
  options.recipe = convert::make_recipe("f32");
  options.hash_sources = false;
  convert::convert_checkpoint(options);
  return options.output;
}

void check_tokens_listed(const Tokenizer& tokenizer, const std::vector<ExpectedToken>& expected) {
  for (const ExpectedToken& token : expected) {
    INFO("token " << token.id << " '" << token.text << "'");
    CHECK(tokenizer.special_id(token.text) == token.id);
    CHECK(tokenizer.is_special(token.id) == token.special);
  }
}

// encode_with_special and decode (with and without special tokens) agree with the reference.
void check_against_reference(const test::TempDir& dir, const Tokenizer& tokenizer, const std::string& model_path,
                             const std::vector<ExpectedToken>& tokens, const std::vector<std::string>& texts = kTexts) {
  const nlohmann::json reference = python_reference(dir, model_path, tokens, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO("text: " << nlohmann::json(texts[i]).dump());
    const std::vector<int32_t> expected = reference["ids"][i].get<std::vector<int32_t>>();
    CHECK(tokenizer.encode_with_special(texts[i], false) == expected);
    CHECK(tokenizer.decode(expected, false) == reference["decoded"][i].get<std::string>());
    CHECK(tokenizer.decode(expected, true) == reference["decoded_special"][i].get<std::string>());
  }
}

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

std::string read_text(const std::string& path) {
  const std::vector<char> bytes = test::read_file(path);
  return {bytes.begin(), bytes.end()};
}

std::string chat_template_file(const char* name) { return read_text(std::string(SMOE_TEST_DATA_DIR) + "/chat_templates/" + name); }

// A ChatML release (Nous-Hermes-2-Mixtral's layout): <|im_end|> = 4096 and <|im_start|> = 4097
// past the 4096-piece model, named in added_tokens.json and special_tokens_map.json, eos_token "<|im_end|>".
test::HfRelease chatml_release() {
  test::HfRelease release;
  release.tokenizer_model = test::tiny_tokenizer_model();
  release.vocab_size = 4098;
  release.files["added_tokens.json"] = R"({"<|im_end|>": 4096, "<|im_start|>": 4097})";
  release.files["special_tokens_map.json"] =
      R"({"bos_token": {"content": "<s>"}, "eos_token": "<|im_end|>", "unk_token": "<unk>",
          "additional_special_tokens": ["<|im_start|>"]})";
  release.files["tokenizer_config.json"] = nlohmann::json{
      {"bos_token", "<s>"}, {"eos_token", "<|im_end|>"}, {"unk_token", "<unk>"},
      {"chat_template", chat_template_file("openhermes-2.5-mistral-7b-chatml.jinja")}}.dump();
  release.files["generation_config.json"] = R"({"bos_token_id": 1, "eos_token_id": [2, 4096]})";
  return release;
}

std::vector<ChatMessage> hello() {
  ChatMessage message;
  message.role = "user";
  message.content = "Hello";
  return {message};
}

const std::string kChatmlPrompt = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";

}  // namespace

TEST_CASE("a v1 vocabulary's special tokens match the sentencepiece reference", "[vocab][golden]") {
  test::TempDir dir;
  test::HfRelease release;
  release.tokenizer_model = test::tiny_tokenizer_model();
  release.chat_template = chat_template_file("mixtral-8x7b-instruct-v0.1.jinja");
  test::write_hf_release(dir.path(), release);
  const auto model = Model::load(convert_release(dir.path().string(), dir));
  const Tokenizer& tokenizer = model->tokenizer();
  CHECK(tokenizer.vocab_size() == 4096);
  check_tokens_listed(tokenizer, kV1Tokens);
  CHECK(tokenizer.special_id("[INST]") == -1);  // plain text in a v1 vocabulary
  CHECK(tokenizer.end_ids() == std::vector<int32_t>{2});
  check_against_reference(dir, tokenizer, test::tiny_model_dir() + "/tokenizer.model", kV1Tokens);
  const format::Container container = format::Container::open(dir.file("model.smoe"));
  CHECK(container.metadata().template_variables ==
        std::map<std::string, std::string>{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}});
}

TEST_CASE("a v3 vocabulary's control tokens are special and match the reference", "[vocab][golden]") {
  test::TempDir dir;
  test::HfRelease release;
  release.tokenizer_model = test::v3_tokenizer_model();
  release.vocab_size = 4103;
  // tokenizer.json lists the control pieces as added tokens, as Mistral's v3 releases do.
  nlohmann::json added = nlohmann::json::array();
  for (const ExpectedToken& token : v3_tokens()) {
    added.push_back({{"id", token.id}, {"content", token.text}, {"special", true}, {"normalized", false}});
  }
  release.files["tokenizer.json"] = nlohmann::json{{"version", "1.0"}, {"added_tokens", added}}.dump();
  release.chat_template = chat_template_file("mistral-large-instruct-2407-v3.jinja");
  test::write_hf_release(dir.path(), release);
  const auto model = Model::load(convert_release(dir.path().string(), dir));
  const Tokenizer& tokenizer = model->tokenizer();
  check_tokens_listed(tokenizer, v3_tokens());
  CHECK(tokenizer.vocab_size() == 4103);
  check_against_reference(dir, tokenizer, dir.file("tokenizer.model"), v3_tokens());
  // The v3 template writes "[INST] Hello[/INST]": [INST] and [/INST] are single ids.
  const std::vector<int32_t> prompt = model->tokenize_chat(hello());
  CHECK(prompt == python_reference(dir, dir.file("tokenizer.model"), v3_tokens(), {"<s>[INST] Hello[/INST]"})["ids"][0]
                      .get<std::vector<int32_t>>());
  REQUIRE(prompt.size() >= 3);
  CHECK(prompt[0] == 1);
  CHECK(prompt[1] == 3);
  CHECK(prompt.back() == 4);
}

TEST_CASE("a ChatML vocabulary past the SentencePiece model converts and ends at <|im_end|>", "[vocab][golden]") {
  test::TempDir dir;
  test::HfRelease release = chatml_release();
  bool im_start_special = true;
  SECTION("from added_tokens.json and special_tokens_map.json") {}
  SECTION("from tokenizer.json and tokenizer_config.json's added_tokens_decoder") {
    release.files.erase("added_tokens.json");
    release.files.erase("special_tokens_map.json");
    release.files["tokenizer.json"] =
        R"({"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
                             {"id": 2, "content": "</s>", "special": true},
                             {"id": 4096, "content": "<|im_end|>", "special": true}]})";
    nlohmann::json config = nlohmann::json::parse(release.files["tokenizer_config.json"]);
    config["added_tokens_decoder"] = {{"4096", {{"content", "<|im_end|>"}, {"special", true}}},
                                      {"4097", {{"content", "<|im_start|>"}, {"special", true}}}};
    release.files["tokenizer_config.json"] = config.dump();
  }
  SECTION("from added_tokens.json alone: added words, not special (as transformers reads it)") {
    release.files.erase("special_tokens_map.json");
    im_start_special = false;  // <|im_end|> stays special: it is the eos_token
  }
  test::write_hf_release(dir.path(), release);
  const std::string path = convert_release(dir.path().string(), dir);
  const auto model = Model::load(path);
  const Tokenizer& tokenizer = model->tokenizer();
  CHECK(tokenizer.vocab_size() == 4098);
  check_tokens_listed(tokenizer, chatml_tokens(im_start_special));
  CHECK(contains(tokenizer.end_ids(), 4096));
  CHECK(contains(tokenizer.end_ids(), 2));
  check_against_reference(dir, tokenizer, test::tiny_model_dir() + "/tokenizer.model", chatml_tokens(im_start_special));
  INFO("rendered: " << nlohmann::json(model->apply_chat_template(hello()).text).dump());
  CHECK(model->tokenize_chat(hello()) == tokenizer.encode_with_special(kChatmlPrompt, false));
  const format::Container container = format::Container::open(path);
  CHECK(container.metadata().template_variables.at("eos_token") == "<|im_end|>");
  CHECK(container.metadata().template_variables.at("bos_token") == "<s>");
}

TEST_CASE("the GGUF form of a ChatML release: CONTROL and USER_DEFINED tokens, EOT as an end", "[vocab][golden][gguf]") {
  test::TempDir dir;
  test::GgufVocab vocab = test::gguf_vocab_of(test::tiny_tokenizer_model());
  vocab.tokens.insert(vocab.tokens.end(), {"<|im_end|>", "<|im_start|>"});
  vocab.scores.insert(vocab.scores.end(), {0.0f, 0.0f});
  vocab.types.insert(vocab.types.end(), {3, 4});  // llama.cpp writes ChatML markers as CONTROL or USER_DEFINED
  vocab.eot_id = 4096;
  vocab.chat_template = chat_template_file("openhermes-2.5-mistral-7b-chatml.jinja");
  test::write_gguf_release(dir.file("chatml.gguf"), vocab, 4098);
  const std::string path = convert_release(dir.file("chatml.gguf"), dir);
  const auto model = Model::load(path);
  const Tokenizer& tokenizer = model->tokenizer();
  const std::vector<ExpectedToken> expected = chatml_tokens(false);  // USER_DEFINED: an added word
  check_tokens_listed(tokenizer, expected);
  CHECK(contains(tokenizer.end_ids(), 4096));
  check_against_reference(dir, tokenizer, test::tiny_model_dir() + "/tokenizer.model", expected);
  INFO("rendered: " << nlohmann::json(model->apply_chat_template(hello()).text).dump());
  CHECK(model->tokenize_chat(hello()) == tokenizer.encode_with_special(kChatmlPrompt, false));
  const format::Container container = format::Container::open(path);
  CHECK(container.metadata().template_variables.at("eos_token") == "</s>");
}

TEST_CASE("a Mistral release prefers tokenizer.model.v3 and gets the v3 chat template", "[vocab][golden][mistral]") {
  test::TempDir dir;
  test::write_mistral_release(dir.path(), test::v3_tokenizer_model(), "tokenizer.model.v3", 4103);
  test::write_text(dir.file("tokenizer.model.v1"), test::tiny_tokenizer_model());  // the older vocabulary, not used
  const std::string path = convert_release(dir.path().string(), dir);
  const auto model = Model::load(path);
  const Tokenizer& tokenizer = model->tokenizer();
  check_tokens_listed(tokenizer, v3_tokens());
  check_against_reference(dir, tokenizer, dir.file("tokenizer.model.v3"), v3_tokens());
  const format::Container container = format::Container::open(path);
  CHECK(container.metadata().chat_template == chat_template_file("mistral-large-instruct-2407-v3.jinja"));
  CHECK(container.metadata().provenance["sources"].dump().find("tokenizer.model.v3") != std::string::npos);
  const std::vector<int32_t> prompt = model->tokenize_chat(hello());
  REQUIRE(prompt.size() >= 3);
  CHECK(prompt[1] == 3);
  CHECK(prompt.back() == 4);
}

TEST_CASE("a Mistral release with a v1 tokenizer.model keeps the v1 template", "[vocab][mistral]") {
  test::TempDir dir;
  test::write_mistral_release(dir.path(), test::tiny_tokenizer_model(), "tokenizer.model", 4096);
  const auto model = Model::load(convert_release(dir.path().string(), dir));
  CHECK(model->tokenize_chat(hello()) == model->tokenizer().encode("[INST] Hello [/INST]", true));
}

TEST_CASE("a Mistral release with only tekken.json is refused by name", "[vocab][mistral][bad_input]") {
  test::TempDir dir;
  test::write_mistral_release(dir.path(), "", "", 4096);
  test::write_text(dir.file("tekken.json"), R"({"config": {"pattern": "", "num_vocab_tokens": 131072}})");
  CHECK_THROWS_WITH(convert_release(dir.path().string(), dir),
                    Catch::Contains("tekken.json") && Catch::Contains("Tekken tokenizer") && Catch::Contains("not support"));
  CHECK_FALSE(fs::exists(dir.file("model.smoe")));
}

TEST_CASE("inspect lists the special tokens and the end tokens", "[vocab][inspect]") {
  test::TempDir dir;
  test::write_hf_release(dir.path(), chatml_release());
  const format::Container container = format::Container::open(convert_release(dir.path().string(), dir));
  const nlohmann::json json = convert::inspect_json(container, false);
  CHECK(json["end_ids"] == nlohmann::json({2, 4096}));
  bool found = false;
  for (const nlohmann::json& token : json["special_tokens"]) {
    if (token["id"] == 4096) found = token["text"] == "<|im_end|>" && token["special"] == true;
  }
  CHECK(found);
  std::ostringstream text;
  convert::print_inspect_text(container, false, text);
  CHECK_THAT(text.str(), Catch::Contains("<|im_end|>") && Catch::Contains("4097") && Catch::Contains("end tokens"));
}

namespace {

struct BadRelease {
  const char* name;
  std::function<void(test::HfRelease&)> break_it;  // edits the ChatML release before it is written
  std::vector<std::string> expected;                // substrings of the error message
};

// The release without its tokenizer files: only tokenizer.model, with `vocab_size` embedding rows.
void only_the_model_vocabulary(test::HfRelease& release, uint32_t vocab_size) {
  release.vocab_size = vocab_size;
  for (const char* name : {"added_tokens.json", "special_tokens_map.json", "tokenizer_config.json", "generation_config.json"}) {
    release.files.erase(name);
  }
}

std::vector<BadRelease> bad_releases() {
  return {
      {"an id with two strings in two files",
       [](auto& r) {
         r.files["tokenizer.json"] = R"({"added_tokens": [{"id": 4096, "content": "<|im_sep|>", "special": true}]})";
       },
       {"added_tokens.json", "4096", "<|im_sep|>", "tokenizer.json"}},
      {"a string with two ids in two files",
       [](auto& r) {
         r.files["tokenizer.json"] = R"({"added_tokens": [{"id": 4097, "content": "<|im_end|>", "special": true}]})";
       },
       {"added_tokens.json", "<|im_end|>", "4097"}},
      {"an added id past vocab_size",
       [](auto& r) { r.files["added_tokens.json"] = R"({"<|im_end|>": 4096, "<|im_start|>": 5000})"; },
       {"added_tokens.json", "5000", "outside the vocabulary"}},
      {"malformed tokenizer.json", [](auto& r) { r.files["tokenizer.json"] = "{\"added_tokens\": ["; },
       {"tokenizer.json", "malformed JSON"}},
      {"added_tokens that is not a list", [](auto& r) { r.files["tokenizer.json"] = R"({"added_tokens": 3})"; },
       {"tokenizer.json", "added_tokens"}},
      {"an added token without content",
       [](auto& r) { r.files["tokenizer.json"] = R"({"added_tokens": [{"id": 4096}]})"; },
       {"tokenizer.json", "added_tokens entry"}},
      {"an added_tokens_decoder key that is not an id",
       [](auto& r) { r.files["tokenizer_config.json"] = R"({"added_tokens_decoder": {"x": {"content": "<|a|>"}}})"; },
       {"tokenizer_config.json", "'x'"}},
      {"an added_tokens.json id that is not a number",
       [](auto& r) { r.files["added_tokens.json"] = R"({"<|im_end|>": "4096"})"; },
       {"added_tokens.json", "not a token id"}},
      {"an eos_token_id list with a non-integer",
       [](auto& r) { r.files["generation_config.json"] = R"({"eos_token_id": [2, "two"]})"; },
       {"generation_config.json", "eos_token_id"}},
      {"an eos_token_id past vocab_size",
       [](auto& r) { r.files["generation_config.json"] = R"({"eos_token_id": [2, 4098]})"; },
       {"generation_config.json", "4098", "outside the vocabulary"}},
      {"an end id past the model that no file names",
       [](auto& r) {
         r.vocab_size = 4100;
         r.files["generation_config.json"] = R"({"eos_token_id": [2, 4099]})";
       },
       {"4099", "no file of the release names its text"}},
      {"an eos_token string that is no token",
       [](auto& r) { r.files["special_tokens_map.json"] = R"({"eos_token": "<|endoftext|>"})"; },
       {"special_tokens_map.json", "eos_token", "<|endoftext|>"}},
      {"an eos_token of the wrong type",
       [](auto& r) { r.files["special_tokens_map.json"] = R"({"eos_token": 7})"; },
       {"special_tokens_map.json", "eos_token"}},
      {"embeddings with fewer rows than vocab_size",
       [](auto& r) {
         only_the_model_vocabulary(r, 4096);
         r.config["vocab_size"] = 4098;
       },
       {"model.embed_tokens.weight", "4098"}},
      {"a SentencePiece model larger than vocab_size",
       [](auto& r) { only_the_model_vocabulary(r, 4000); },
       {"tokenizer.model", "4096 pieces", "4000"}},
  };
}

}  // namespace

TEST_CASE("releases with conflicting or malformed token files are refused by file and problem", "[vocab][bad_input]") {
  for (const BadRelease& bad : bad_releases()) {
    INFO(bad.name);
    test::TempDir dir;
    test::HfRelease release = chatml_release();
    bad.break_it(release);
    test::write_hf_release(dir.path(), release);
    try {
      convert_release(dir.path().string(), dir);
      FAIL("converted without an error");
    } catch (const Error& error) {
      const std::string message = error.what();
      INFO(message);
      for (const std::string& part : bad.expected) CHECK(message.find(part) != std::string::npos);
    }
    CHECK_FALSE(fs::exists(dir.file("model.smoe")));
  }
}

TEST_CASE("a GGUF end token outside the vocabulary is refused by name", "[vocab][bad_input][gguf]") {
  test::TempDir dir;
  test::GgufVocab vocab = test::gguf_vocab_of(test::tiny_tokenizer_model());
  vocab.eot_id = 5000;
  test::write_gguf_release(dir.file("bad.gguf"), vocab, 4096);
  CHECK_THROWS_WITH(convert_release(dir.file("bad.gguf"), dir), Catch::Contains("bad.gguf") && Catch::Contains("eot_token_id"));
}

namespace {

// The token greedy decoding picks first after `prompt`, and its logit.
std::pair<int32_t, float> first_greedy_token(const Model& model, const std::vector<int32_t>& prompt) {
  auto session = model.create_session();
  const std::span<const float> logits = session->eval(prompt);
  const auto best = std::max_element(logits.begin(), logits.end());
  return {int32_t(best - logits.begin()), *best};
}

// An edit making `end`'s output row twice `winner`'s: with a positive winning logit, greedy
// decoding then picks `end` first, so the test can see generation stop there.
test::WeightEdit make_end_win(int32_t end, int32_t winner, uint32_t hidden) {
  return [=](const std::string& name, std::vector<float>& values) {
    if (name != "output") return;
    for (uint32_t i = 0; i < hidden; ++i) values[size_t(end) * hidden + i] = 2 * values[size_t(winner) * hidden + i];
  };
}

// Greedy generation from `prompt` must stop at once at `end`, streaming no text for it.
void check_stops_at(const Model& model, const std::vector<int32_t>& prompt, int32_t end) {
  auto session = model.create_session();
  GenerateOptions options;
  options.max_tokens = 8;
  options.sampler.temperature = 0;
  options.sampler.repeat_penalty = 1;
  std::string text;
  const GenerateResult result = session->generate(prompt, options, [&](int32_t, std::string_view piece) {
    text += piece;
    return true;
  });
  CHECK(result.tokens == std::vector<int32_t>{end});
  CHECK(result.stop_reason == StopReason::eos);
  CHECK(text.empty());
}

}  // namespace

TEST_CASE("a ChatML model chats through its template and stops at <|im_end|>, from HF and from GGUF",
          "[vocab][golden][chat]") {
  test::TempDir dir;
  test::HfRelease release = chatml_release();
  fs::create_directories(dir.path() / "plain");
  test::write_hf_release(dir.path() / "plain", release);
  const std::vector<int32_t> prompt = Model::load(convert_release((dir.path() / "plain").string(), dir, "plain.smoe"))
                                          ->tokenize_chat(hello());
  const auto [winner, logit] = first_greedy_token(*Model::load(dir.file("plain.smoe")), prompt);
  REQUIRE(logit > 0);
  REQUIRE(winner != 4096);
  const uint32_t hidden = test::tiny_release_hyperparameters(4098).hidden_size;
  release.edit_weights = make_end_win(4096, winner, hidden);
  fs::create_directories(dir.path() / "ends");
  test::write_hf_release(dir.path() / "ends", release);
  const auto model = Model::load(convert_release((dir.path() / "ends").string(), dir, "ends.smoe"));
  CHECK(model->tokenize_chat(hello()) == prompt);
  check_stops_at(*model, prompt, 4096);

  // The GGUF form of the same release: the same prompt ids and the same stop.
  test::GgufVocab vocab = test::gguf_vocab_of(test::tiny_tokenizer_model());
  vocab.tokens.insert(vocab.tokens.end(), {"<|im_end|>", "<|im_start|>"});
  vocab.scores.insert(vocab.scores.end(), {0.0f, 0.0f});
  vocab.types.insert(vocab.types.end(), {3, 3});
  vocab.eos_id = 4096;  // as llama.cpp's converter writes a ChatML fine-tune whose eos_token is <|im_end|>
  vocab.chat_template = chat_template_file("openhermes-2.5-mistral-7b-chatml.jinja");
  test::write_gguf_release(dir.file("ends.gguf"), vocab, 4098, make_end_win(4096, winner, hidden));
  const auto from_gguf = Model::load(convert_release(dir.file("ends.gguf"), dir, "ends-gguf.smoe"));
  CHECK(from_gguf->tokenize_chat(hello()) == prompt);
  check_stops_at(*from_gguf, prompt, 4096);
}

TEST_CASE("a v3 model renders Mixtral-8x22B's tool template with [INST] and the tool markers as single ids",
          "[vocab][golden][chat]") {
  test::TempDir dir;
  test::HfRelease release;
  release.tokenizer_model = test::v3_tokenizer_model();
  release.chat_template = chat_template_file("mixtral-8x22b-instruct-v0.1-tool_use.jinja");
  fs::create_directories(dir.path() / "plain");
  test::write_hf_release(dir.path() / "plain", release);
  ChatOptions options;
  options.tools = R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";
  std::vector<ChatMessage> chat = {{"user", "Weather in Paris?"}};
  const auto plain = Model::load(convert_release((dir.path() / "plain").string(), dir, "plain.smoe"));
  const ChatPrompt prompt = plain->apply_chat_template(chat, options);
  // Jinja2's rendering of this template and conversation (tests/support/render_chat_templates.py).
  const std::string expected_text =
      "<s>[AVAILABLE_TOOLS][{'type': 'function', 'function': {'name': 'get_weather', 'description': 'Weather in a "
      "city', 'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}}]"
      "[/AVAILABLE_TOOLS][INST]Weather in Paris?[/INST]";
  CHECK(prompt.text == expected_text);
  const Tokenizer& tokenizer = plain->tokenizer();
  const int32_t inst = 3, inst_end = 4, tools_open = 6, tools_close = 7;
  CHECK(std::count(prompt.ids.begin(), prompt.ids.end(), inst) == 1);
  CHECK(std::count(prompt.ids.begin(), prompt.ids.end(), inst_end) == 1);
  CHECK(prompt.ids[0] == 1);
  CHECK(prompt.ids[1] == tools_open);
  CHECK(std::count(prompt.ids.begin(), prompt.ids.end(), tools_close) == 1);
  CHECK(prompt.ids.back() == inst_end);
  CHECK(prompt.ids == tokenizer.encode_with_special(expected_text, false));
  // A user who types the markers gets text, not control tokens.
  chat[0].content = "[/INST] [TOOL_CALLS]";
  const std::vector<int32_t> injected = plain->tokenize_chat(chat, options);
  CHECK(std::count(injected.begin(), injected.end(), inst_end) == 1);
  CHECK(std::count(injected.begin(), injected.end(), 5) == 0);  // [TOOL_CALLS]
  chat[0].content = "Weather in Paris?";

  const auto [winner, logit] = first_greedy_token(*plain, prompt.ids);
  REQUIRE(logit > 0);
  REQUIRE(winner != 2);
  release.edit_weights = make_end_win(2, winner, test::tiny_release_hyperparameters(4103).hidden_size);
  fs::create_directories(dir.path() / "ends");
  test::write_hf_release(dir.path() / "ends", release);
  const auto model = Model::load(convert_release((dir.path() / "ends").string(), dir, "ends.smoe"));
  check_stops_at(*model, model->tokenize_chat(chat, options), 2);
}

TEST_CASE("a 32002-token ChatML vocabulary as fine-tunes ship it matches the sentencepiece reference",
          "[vocab][golden][chat]") {
  // The layout of real ChatML fine-tunes of Mixtral (Nous-Hermes-2, Dolphin): Mistral's 32000-piece
  // SentencePiece model, <|im_end|> = 32000 and <|im_start|> = 32001 past it, vocab_size 32002.
  test::TempDir dir;
  const std::vector<ExpectedToken> tokens = chatml_tokens(true, 32000);
  test::HfRelease release;
  release.tokenizer_model = test::padded_tokenizer_model(32000);
  release.vocab_size = 32002;
  release.files["added_tokens.json"] = R"({"<|im_end|>": 32000, "<|im_start|>": 32001})";
  release.files["special_tokens_map.json"] =
      R"({"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>",
          "additional_special_tokens": ["<|im_start|>"]})";
  release.files["tokenizer_config.json"] = nlohmann::json{
      {"bos_token", "<s>"}, {"eos_token", "<|im_end|>"}, {"unk_token", "<unk>"},
      {"chat_template", chat_template_file("openhermes-2.5-mistral-7b-chatml.jinja")}}.dump();
  release.files["generation_config.json"] = R"({"bos_token_id": 1, "eos_token_id": 32000})";
  test::write_hf_release(dir.path(), release);
  const std::string padded_model = dir.file("tokenizer.model");

  // The fixture: the padding pieces never win a merge, so text encodes as with the 4096-piece model.
  const std::vector<std::string> ordinary = {"Hello, how are you today?",
                                             "  leading spaces and caf\xc3\xa9 \xe2\x9c\x93",
                                             "zzq zzq00001 \xe2\x96\x81zzq", "[INST] Hello [/INST]"};
  CHECK(python_reference(dir, padded_model, kV1Tokens, ordinary)["ids"] ==
        python_reference(dir, test::tiny_model_dir() + "/tokenizer.model", kV1Tokens, ordinary)["ids"]);

  const auto model = Model::load(convert_release(dir.path().string(), dir));
  const Tokenizer& tokenizer = model->tokenizer();
  CHECK(tokenizer.vocab_size() == 32002);
  CHECK(tokenizer.decode({4096, 31999}, false) == "zzq00001 zzq27904");  // the padding, in order
  check_tokens_listed(tokenizer, tokens);
  CHECK(contains(tokenizer.end_ids(), 32000));

  std::vector<ChatMessage> chat = {{"system", "You are Hermes."}, {"user", "Hello"}, {"assistant", "Hi there!"},
                                   {"user", "Wie geht's? \xe2\x9c\x93"}};
  const ChatPrompt rendered = model->apply_chat_template(chat);
  CHECK(rendered.text ==
        "<|im_start|>system\nYou are Hermes.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
        "Hi there!<|im_end|>\n<|im_start|>user\nWie geht's? \xe2\x9c\x93<|im_end|>\n<|im_start|>assistant\n");
  std::vector<std::string> texts = kTexts;
  texts.push_back(rendered.text);
  texts.insert(texts.end(), ordinary.begin(), ordinary.end());
  check_against_reference(dir, tokenizer, padded_model, tokens, texts);
  const nlohmann::json rendered_reference = python_reference(dir, padded_model, tokens, {rendered.text});
  CHECK(rendered.ids == rendered_reference["ids"][0].get<std::vector<int32_t>>());
  CHECK(std::count(rendered.ids.begin(), rendered.ids.end(), 32000) == 4);
  CHECK(std::count(rendered.ids.begin(), rendered.ids.end(), 32001) == 5);
  CHECK(model->tokenize_chat(hello()) == tokenizer.encode_with_special(kChatmlPrompt, false));
}
