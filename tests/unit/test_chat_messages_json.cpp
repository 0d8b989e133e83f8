// Chat messages from and to OpenAI's JSON form.
#include <catch2/catch.hpp>

#include "smoe/chat.h"
#include "smoe/error.h"

using namespace smoe;

TEST_CASE("chat messages read OpenAI's form: content parts, tool calls, tool results", "[chat]") {
  const std::string json = R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather "}, {"type": "text", "text": "in Paris?"}]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
      {"id": "xyzUVW789", "type": "function", "function": {"name": "get_time", "arguments": {"zone": "CET"}}}]},
    {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather", "content": "22 C"}
  ])";
  const std::vector<ChatMessage> messages = chat_messages_from_json(json, "chat.json");
  REQUIRE(messages.size() == 4);
  CHECK(messages[1].content == "Weather in Paris?");
  CHECK(messages[2].content.empty());
  REQUIRE(messages[2].tool_calls.size() == 2);
  CHECK(messages[2].tool_calls[0].id == "abcDEF123");
  CHECK(messages[2].tool_calls[0].name == "get_weather");
  CHECK(messages[2].tool_calls[0].arguments == R"({"city": "Paris"})");
  CHECK(messages[2].tool_calls[1].arguments == R"({"zone":"CET"})");  // an object becomes its JSON text
  CHECK(messages[3].role == "tool");
  CHECK(messages[3].tool_call_id == "abcDEF123");
  CHECK(messages[3].name == "get_weather");
  // And back: the same messages again.
  const std::vector<ChatMessage> again = chat_messages_from_json(chat_messages_to_json(messages), "again");
  REQUIRE(again.size() == messages.size());
  for (size_t i = 0; i < again.size(); ++i) {
    CHECK(again[i].role == messages[i].role);
    CHECK(again[i].content == messages[i].content);
    CHECK(again[i].tool_calls.size() == messages[i].tool_calls.size());
    CHECK(again[i].tool_call_id == messages[i].tool_call_id);
  }
}

TEST_CASE("malformed chat messages are errors naming the file and the message", "[chat]") {
  CHECK_THROWS_WITH(chat_messages_from_json("[{\"role\": \"user\"", "chat.json"), "chat.json: malformed JSON");
  CHECK_THROWS_WITH(chat_messages_from_json("{}", "chat.json"), "chat.json: expected a JSON list of messages");
  CHECK_THROWS_WITH(chat_messages_from_json("[{\"content\": \"hi\"}]", "chat.json"), "chat.json: message 0 has no 'role'");
  CHECK_THROWS_WITH(chat_messages_from_json("[{\"role\": 3}]", "c"), "c: message 0: 'role' is not a string");
  CHECK_THROWS_WITH(chat_messages_from_json("[{\"role\": \"user\", \"content\": 5}]", "c"),
                    Catch::Contains("'content' is neither a string nor a list"));
  CHECK_THROWS_WITH(chat_messages_from_json(R"([{"role": "user", "content": [{"type": "image_url"}]}])", "c"),
                    Catch::Contains("only text content parts"));
  CHECK_THROWS_WITH(chat_messages_from_json(R"([{"role": "assistant", "tool_calls": [{"function": {}}]}])", "c"),
                    Catch::Contains("has no function with a name"));
}
