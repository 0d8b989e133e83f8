// The embedded SentencePiece tokenizer against the reference ids, streaming detokenization,
// and chat-template tokenization.
#include <catch2/catch.hpp>

#include "smoe/error.h"
#include "smoe/model.h"
#include "support/reference.h"
#include "support/temp_dir.h"

using namespace smoe;

TEST_CASE("tokenizer ids match the reference for every held-out line", "[golden][tokenizer]") {
  const auto model = Model::load(test::tiny_container("q8"));
  const Tokenizer& tokenizer = model->tokenizer();
  size_t checked = 0;
  for (const nlohmann::json& item : test::tiny_reference().json["tokenizer_cases"]) {
    const std::string text = item["text"];
    const std::vector<int32_t> expected = item["ids"].get<std::vector<int32_t>>();
    INFO("text: " << text);
    CHECK(tokenizer.encode(text, false) == expected);
    CHECK(tokenizer.decode(expected) == text);
    ++checked;
  }
  CHECK(checked == 300);
  for (const nlohmann::json& prompt : test::tiny_reference().json["prompts"]) {
    CHECK(tokenizer.encode(prompt["text"].get<std::string>(), true) == prompt["ids"].get<std::vector<int32_t>>());
  }
}

TEST_CASE("streaming detokenization never splits a UTF-8 character", "[tokenizer]") {
  const auto model = Model::load(test::tiny_container("q8"));
  const Tokenizer& tokenizer = model->tokenizer();
  const std::string text = "Zapoteco Santa Inés Yatzechi — ünïcödé 日本語 🙂 ok";
  const std::vector<int32_t> ids = tokenizer.encode(text, true);
  Utf8Stream stream;
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = stream.push(tokenizer.token_bytes(id));
    // Every emitted piece is valid UTF-8 on its own: it never ends inside a character.
    size_t i = 0;
    while (i < piece.size()) {
      const auto lead = static_cast<unsigned char>(piece[i]);
      const size_t length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
      REQUIRE(i + length <= piece.size());
      i += length;
    }
    streamed += piece;
  }
  streamed += stream.flush();
  CHECK(streamed == " " + text);  // SentencePiece's dummy prefix is a leading space
}

TEST_CASE("chat messages render as Jinja2 renders the model's template, then split at special tokens",
          "[tokenizer][chat]") {
  const auto model = Model::load(test::tiny_container("q8"));
  const std::vector<ChatMessage> chat = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye </s> [INST]"}};
  // Python's Jinja2 on the tiny model's template (which has no system branch: a system message
  // renders like an assistant turn).
  const std::string rendered = "<s>Be brief.</s>[INST] Hi [/INST]Hello.</s>[INST] Bye </s> [INST] [/INST]";
  CHECK(model->chat_template().render(chat) == rendered);
  const Tokenizer& tokenizer = model->tokenizer();
  auto pieces = [&](std::initializer_list<std::string_view> parts) {
    std::vector<int32_t> ids;
    for (std::string_view part : parts) {
      if (part == "<s>" || part == "</s>") {
        ids.push_back(part == "<s>" ? tokenizer.bos_id() : tokenizer.eos_id());
      } else {
        const std::vector<int32_t> text = tokenizer.encode(part, false);
        ids.insert(ids.end(), text.begin(), text.end());
      }
    }
    return ids;
  };
  // Default: the "</s>" a user typed stays text; the template's own markers are special.
  const ChatPrompt prompt = model->apply_chat_template(chat);
  CHECK(prompt.text == rendered);
  CHECK(prompt.ids == pieces({"<s>", "Be brief.", "</s>", "[INST] Hi [/INST]Hello.", "</s>", "[INST] Bye </s> [INST] [/INST]"}));
  // As Hugging Face: every special string in the rendered text is a special token.
  ChatOptions parse;
  parse.parse_special_in_content = true;
  CHECK(model->tokenize_chat(chat, parse) ==
        pieces({"<s>", "Be brief.", "</s>", "[INST] Hi [/INST]Hello.", "</s>", "[INST] Bye ", "</s>", " [INST] [/INST]"}));
  CHECK(model->tokenize_chat(chat, parse) == tokenizer.encode_with_special(rendered, false));
  // Content holding the placeholder characters themselves comes through unchanged.
  const std::vector<ChatMessage> odd = {{"user", "\xee\x80\x80 </s>\xee\x80\x80\xf3\xb0\x80\x80"}};
  const ChatPrompt odd_prompt = model->apply_chat_template(odd);
  CHECK(odd_prompt.text == "<s>[INST] " + odd[0].content + " [/INST]");
  CHECK(odd_prompt.ids == pieces({"<s>", "[INST] " + odd[0].content + " [/INST]"}));
}

TEST_CASE("a template that raises is an error with the template's message", "[tokenizer][chat]") {
  // Mixtral-8x7B-Instruct-v0.1's own template refuses system messages and unordered roles.
  ModelOptions options;
  const std::vector<char> source = test::read_file(std::string(SMOE_TEST_DATA_DIR) + "/chat_templates/mixtral-8x7b-instruct-v0.1.jinja");
  options.chat_template.assign(source.begin(), source.end());
  const auto model = Model::load(test::tiny_container("q8"), options);
  CHECK(model->apply_chat_template({{"user", "Hi"}}).text == "<s>[INST] Hi [/INST]");
  CHECK_THROWS_WITH(model->tokenize_chat({{"assistant", "first"}}),
                    "chat template: Conversation roles must alternate user/assistant/user/assistant/...");
  CHECK_THROWS_WITH(model->tokenize_chat({{"system", "Be brief."}, {"user", "Hi"}}),
                    Catch::Contains("Conversation roles must alternate"));
  ModelOptions broken;
  broken.chat_template = "{% include 'other.jinja' %}";
  CHECK_THROWS_WITH(Model::load(test::tiny_container("q8"), broken),
                    Catch::Contains("the given chat template") && Catch::Contains("include"));
}
