// smoe-server's pieces without a model or a socket: stop strings over streamed pieces, and
// OpenAI request bodies accepted or refused with the field named.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "api_error.h"
#include "openai_request.h"
#include "stop_strings.h"

using smoe::server::ApiError;
using smoe::server::StopMatcher;

namespace {

// Streams `pieces` through a matcher; returns what a client would have received.
std::string stream(StopMatcher& matcher, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& piece : pieces) out += matcher.push(piece);
  return out + matcher.flush();
}

// The `param` of the ApiError that parsing `body` throws ("" when it parses).
std::string refused_param(const std::string& body) {
  try {
    smoe::server::parse_chat_request(body, {});
  } catch (const ApiError& error) {
    CHECK(error.status() == 400);
    return error.param().empty() ? "(none)" : error.param();
  }
  return "";
}

}  // namespace

TEST_CASE("server stop strings end the text before the stop, across pieces", "[server]") {
  StopMatcher none;
  CHECK(stream(none, {"Hello", " world"}) == "Hello world");

  StopMatcher split({"END"});
  CHECK(split.push("abc E") == "abc ");  // "E" may begin the stop: held back
  CHECK(split.push("N") == "");
  CHECK(split.push("D and more") == "");
  CHECK(split.stopped());
  CHECK(split.push("later") == "");

  StopMatcher false_start({"END"});
  CHECK(stream(false_start, {"EN", "d", "!"}) == "ENd!");
  CHECK_FALSE(false_start.stopped());

  StopMatcher earliest({"world", "lo"});
  CHECK(stream(earliest, {"Hello world"}) == "Hel");

  StopMatcher held_at_end({"</answer>"});
  CHECK(stream(held_at_end, {"42</ans"}) == "42</ans");  // generation ended: the held text is sent

  StopMatcher unicode({"é!"});
  CHECK(stream(unicode, {"caf", "é", "!", "x"}) == "caf");
}

TEST_CASE("server chat requests parse OpenAI's fields", "[server]") {
  const auto request = smoe::server::parse_chat_request(
      R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0, "top_p": 0.5,
          "top_k": 3, "min_p": 0.1, "seed": 7, "max_tokens": 12, "stop": ["a", "b"], "stream": true,
          "stream_options": {"include_usage": true}, "tools": [{"type": "function", "function": {"name": "f"}}],
          "user": "ignored", "presence_penalty": 0.5})",
      {});
  CHECK(request.params.model == "m");
  CHECK(request.messages.size() == 1);
  CHECK(request.messages[0].content == "hi");
  CHECK(request.params.sampler.temperature == 0.0f);
  CHECK(request.params.sampler.top_p == 0.5f);
  CHECK(request.params.sampler.top_k == 3);
  CHECK(request.params.sampler.seed == 7);
  CHECK(request.params.max_tokens == 12);
  CHECK(request.params.stop == std::vector<std::string>{"a", "b"});
  CHECK(request.params.stream);
  CHECK(request.params.include_usage);
  CHECK(request.chat.tools.find("\"f\"") != std::string::npos);

  const auto text = smoe::server::parse_completion_request(R"({"prompt": ["once"], "stop": "x"})", {});
  CHECK(text.prompt == "once");
  CHECK(text.params.stop == std::vector<std::string>{"x"});
}

TEST_CASE("server chat requests refuse malformed bodies naming the field", "[server]") {
  const std::string user = R"("messages": [{"role": "user", "content": "hi"}])";
  CHECK(refused_param("{not json") == "(none)");
  CHECK(refused_param("[1, 2]") == "(none)");
  CHECK(refused_param("{}") == "messages");
  CHECK(refused_param(R"({"messages": "hi"})") == "messages");
  CHECK(refused_param(R"({"messages": []})") == "messages");
  CHECK(refused_param(R"({"messages": [{"content": "no role"}]})") == "messages");
  CHECK(refused_param("{" + user + R"(, "max_tokens": "12"})") == "max_tokens");
  CHECK(refused_param("{" + user + R"(, "max_tokens": 0})") == "max_tokens");
  CHECK(refused_param("{" + user + R"(, "max_tokens": 1.5})") == "max_tokens");
  CHECK(refused_param("{" + user + R"(, "temperature": "hot"})") == "temperature");
  CHECK(refused_param("{" + user + R"(, "temperature": 3})") == "temperature");
  CHECK(refused_param("{" + user + R"(, "top_p": -1})") == "top_p");
  CHECK(refused_param("{" + user + R"(, "top_k": -1})") == "top_k");
  CHECK(refused_param("{" + user + R"(, "stop": 5})") == "stop");
  CHECK(refused_param("{" + user + R"(, "stream": "yes"})") == "stream");
  CHECK(refused_param("{" + user + R"(, "model": 5})") == "model");
  CHECK(refused_param("{" + user + R"(, "n": 2})") == "n");
  CHECK(refused_param("{" + user + R"(, "tools": {}})") == "tools");
  CHECK(refused_param("{" + user + R"(, "max_tokens": 12, "seed": null})").empty());
  // Nesting deep enough to overflow the stack of anything recursive is refused while parsing.
  CHECK(refused_param("{" + user + R"(, "tools": )" + std::string(100000, '[') + std::string(100000, ']') + "}") ==
        "(none)");
}
