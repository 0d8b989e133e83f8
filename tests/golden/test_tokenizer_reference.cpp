// The embedded SentencePiece tokenizer against the reference ids, streaming detokenization,
// and chat-template tokenization.
#include <catch2/catch.hpp>

#include "smoe/error.h"
#include "smoe/model.h"
#include "support/reference.h"

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

TEST_CASE("chat messages render in the Mistral [INST] form", "[tokenizer][chat]") {
  const auto model = Model::load(test::tiny_container("q8"));
  const std::vector<ChatMessage> chat = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};
  CHECK(model->chat_template().render(chat) == "<s>[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]");
  const std::vector<int32_t> ids = model->tokenize_chat(chat);
  const Tokenizer& tokenizer = model->tokenizer();
  REQUIRE(ids.front() == tokenizer.bos_id());
  CHECK(std::count(ids.begin(), ids.end(), tokenizer.eos_id()) == 1);
  std::vector<int32_t> expected = {tokenizer.bos_id()};
  for (const char* segment : {"[INST] Be brief.\n\nHi [/INST]Hello."}) {
    const auto part = tokenizer.encode(segment, false);
    expected.insert(expected.end(), part.begin(), part.end());
  }
  expected.push_back(tokenizer.eos_id());
  const auto last = tokenizer.encode("[INST] Bye [/INST]", false);
  expected.insert(expected.end(), last.begin(), last.end());
  CHECK(ids == expected);
  CHECK_THROWS_AS(model->tokenize_chat({{"assistant", "first"}}), Error);
}
