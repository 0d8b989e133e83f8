// smoe-server's pieces without a model: stop strings over streamed pieces, OpenAI request bodies
// accepted or refused with the field named, tool calls read from answers, the Prometheus text,
// and the routes' answers before the model is loaded and while shutting down (on a local socket).
#include <httplib.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api_error.h"
#include "http_routes.h"
#include "metrics.h"
#include "openai_request.h"
#include "openai_response.h"
#include "stop_strings.h"
#include "tool_calls.h"

#include <nlohmann/json.hpp>

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

  // "developer" is OpenAI's newer name for the system message.
  const auto developer = smoe::server::parse_chat_request(
      R"({"messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}]})", {});
  CHECK(developer.messages[0].role == "system");
  CHECK(developer.messages[1].role == "user");

  const auto text = smoe::server::parse_completion_request(R"({"prompt": ["once"], "stop": "x"})", {});
  CHECK(text.prompt == "once");
  CHECK(text.params.stop == std::vector<std::string>{"x"});
}

TEST_CASE("server chat requests refuse malformed bodies naming the field", "[server]") {
  const std::string user = R"("messages": [{"role": "user", "content": "hi"}])";
  CHECK(refused_param("{not json") == "(none)");
  CHECK(refused_param("{" + user + R"(, "temperature": 1e999})") == "(none)");  // a number no double holds
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
  CHECK(refused_param(R"({"messages": [{"role": "bogus", "content": "hi"}]})") == "messages");
  CHECK(refused_param(R"({"messages": [{"role": "function", "content": "hi"}]})") == "messages");
  // Nesting deep enough to overflow the stack of anything recursive is refused while parsing.
  CHECK(refused_param("{" + user + R"(, "tools": )" + std::string(100000, '[') + std::string(100000, ']') + "}") ==
        "(none)");
}

namespace {

// The calls' names and arguments (their ids are random) as JSON, for comparing with the expected.
nlohmann::json calls_json(const std::vector<smoe::ToolCall>& calls) {
  nlohmann::json out = nlohmann::json::array();
  for (const smoe::ToolCall& call : calls) {
    CHECK(call.id.size() == 9);
    out.push_back({{"name", call.name}, {"arguments", nlohmann::json::parse(call.arguments)}});
  }
  return out;
}

}  // namespace

TEST_CASE("server tool calls in Mistral's form", "[server][tool_calls]") {
  using smoe::server::parse_tool_calls;
  const auto calls = parse_tool_calls(
      R"([TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}, {"name": "now", "arguments": {}}])");
  REQUIRE(calls);
  CHECK(calls->content.empty());
  CHECK(calls_json(calls->calls) == nlohmann::json::parse(R"([{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
                                                               {"name": "now", "arguments": {}}])"));
  // One object instead of a list; arguments given as JSON text; no arguments.
  const auto one = parse_tool_calls(R"([TOOL_CALLS]{"name": "f", "arguments": "{\"x\": 1}"})");
  REQUIRE(one);
  CHECK(calls_json(one->calls) == nlohmann::json::parse(R"([{"name": "f", "arguments": {"x": 1}}])"));
  const auto bare = parse_tool_calls(R"([TOOL_CALLS] [{"name": "ping"}])");
  REQUIRE(bare);
  CHECK(bare->calls.at(0).arguments == "{}");
  // Not calls: plain text, broken JSON, a call without a name, arguments of the wrong type.
  CHECK_FALSE(parse_tool_calls("The weather in Paris is mild."));
  CHECK_FALSE(parse_tool_calls(R"([TOOL_CALLS] [{"name": "f", "arguments": {"x": )"));
  CHECK_FALSE(parse_tool_calls(R"([TOOL_CALLS] [{"arguments": {}}])"));
  CHECK_FALSE(parse_tool_calls(R"([TOOL_CALLS] [{"name": "f", "arguments": 3}])"));
  CHECK_FALSE(parse_tool_calls(R"([TOOL_CALLS] [])"));
}

TEST_CASE("server tool calls in Hermes' form, after some text", "[server][tool_calls]") {
  using smoe::server::parse_tool_calls;
  const auto calls = parse_tool_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call>");
  REQUIRE(calls);
  CHECK(calls->content == "Let me check.");
  CHECK(calls_json(calls->calls) ==
        nlohmann::json::parse(R"([{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "now", "arguments": {}}])"));
  // The end token may come before the last close.
  const auto open = parse_tool_calls("<tool_call>{\"name\": \"now\", \"arguments\": {}}");
  REQUIRE(open);
  CHECK(open->calls.size() == 1);
  // Text between or after calls: not an answer made of calls.
  CHECK_FALSE(parse_tool_calls("<tool_call>{\"name\": \"now\"}</tool_call> and then some prose"));
  CHECK_FALSE(parse_tool_calls("<tool_call>not json</tool_call>"));
}

TEST_CASE("server tool-call hold-back streams text until a marker may begin", "[server][tool_calls]") {
  smoe::server::ToolCallHoldBack hold;
  CHECK(hold.push("Sure. ") == "Sure. ");
  CHECK(hold.push("I will [TOOL") == "I will ");   // "[TOOL" may begin [TOOL_CALLS]
  CHECK(hold.push("S are great") == "[TOOLS are great");  // it did not
  CHECK(hold.push(" <tool") == " ");
  CHECK(hold.push("_call>{\"name\": ") == "");   // a marker: everything from here is held
  CHECK(hold.push("\"f\"}</tool_call>") == "");
  CHECK(hold.release() == "<tool_call>{\"name\": \"f\"}</tool_call>");
  CHECK(hold.whole() == "Sure. I will [TOOLS are great <tool_call>{\"name\": \"f\"}</tool_call>");
  const auto calls = smoe::server::parse_tool_calls(hold.whole());
  REQUIRE(calls);
  CHECK(calls->content == "Sure. I will [TOOLS are great");
  CHECK(calls->calls.at(0).name == "f");
}

TEST_CASE("server tool-call answers in OpenAI's shape", "[server][tool_calls]") {
  using namespace smoe::server;
  const ResponseHeader header{Endpoint::chat, "chatcmpl-x", 1, "m"};
  const ToolCallAnswer answer{"", {{"abcdefghi", "get_weather", R"({"city":"Paris"})"}}};
  const nlohmann::json whole = tool_call_answer_json(header, answer, Usage{5, 7, 0});
  const nlohmann::json& choice = whole["choices"][0];
  CHECK(choice["finish_reason"] == "tool_calls");
  CHECK(choice["message"]["content"].is_null());
  CHECK(choice["message"]["tool_calls"] == nlohmann::json::parse(R"([{"id": "abcdefghi", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])"));
  CHECK(whole["usage"]["total_tokens"] == 12);
  const nlohmann::json chunk = tool_call_chunk_json(header, answer.calls);
  CHECK(chunk["object"] == "chat.completion.chunk");
  CHECK(chunk["choices"][0]["delta"]["tool_calls"][0]["index"] == 0);
  CHECK(chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "get_weather");
}

namespace {

// The value of the sample line `name` (with its labels, if any) in Prometheus text; "" if absent.
std::string sample(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  const size_t begin = at + name.size() + 2;
  return text.substr(begin, text.find('\n', begin) - begin);
}

}  // namespace

TEST_CASE("server /metrics shows the expert cache and the accelerator where the model has them", "[server]") {
  smoe::server::Metrics metrics;
  metrics.set_slots(2, 1, 4);
  const std::string plain = metrics.prometheus_text();
  CHECK(sample(plain, "smoe_queue_depth") == "2");
  CHECK(sample(plain, "smoe_active_slots") == "1");
  CHECK(plain.find("smoe_expert_cache") == std::string::npos);
  CHECK(plain.find("smoe_accelerator") == std::string::npos);

  smoe::server::ModelCounters model;
  model.expert_cache = smoe::ExpertCacheStats{.chosen = 40, .hits = 30, .bytes_read = 1000, .wait_seconds = 0.5};
  model.accelerator = smoe::OffloadStats{.device_runs = 3, .cpu_runs = 1, .resident_experts = 7};
  const std::string text = metrics.prometheus_text(model);
  CHECK(sample(text, "smoe_expert_cache_lookups_total") == "40");
  CHECK(sample(text, "smoe_expert_cache_hits_total") == "30");
  CHECK(sample(text, "smoe_expert_cache_hit_ratio") == "0.75");
  CHECK(sample(text, "smoe_expert_cache_read_bytes_total") == "1000");
  CHECK(sample(text, "smoe_expert_cache_wait_seconds_total") == "0.5");
  CHECK(sample(text, "smoe_expert_runs_total{on=\"accelerator\"}") == "3");
  CHECK(sample(text, "smoe_expert_runs_total{on=\"cpu\"}") == "1");
  CHECK(sample(text, "smoe_accelerator_hit_ratio") == "0.75");
  CHECK(sample(text, "smoe_accelerator_resident_experts") == "7");
  CHECK(text.find("# TYPE smoe_expert_cache_hit_ratio gauge") != std::string::npos);
}

TEST_CASE("server routes answer 503 while loading and shutting down", "[server]") {
  smoe::server::ServerOptions options;
  options.api_key = "k";
  options.log_requests = false;
  smoe::server::Metrics metrics;
  smoe::server::ServerContext context{
      .options = options, .metrics = metrics, .model = nullptr, .scheduler = nullptr, .open_streams = {}};
  httplib::Server http;
  smoe::server::register_routes(http, context);
  const int port = http.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread listener([&] { http.listen_after_bind(); });  // bound and listening: connections wait for it
  httplib::Client client("127.0.0.1", port);
  const httplib::Headers key = {{"Authorization", "Bearer k"}};
  const auto status_of = [](const httplib::Result& result) { return result ? result->status : -1; };
  const auto code_of = [](const httplib::Result& result) {
    return result ? nlohmann::json::parse(result->body)["error"]["code"].get<std::string>() : "";
  };

  auto health = client.Get("/health");  // no key needed
  REQUIRE(health);
  CHECK(status_of(health) == 503);
  CHECK(health->body == R"({"status":"loading"})");
  auto chat = client.Post("/v1/chat/completions", key, R"({"messages": [{"role": "user", "content": "hi"}]})",
                          "application/json");
  CHECK(status_of(chat) == 503);
  CHECK(code_of(chat) == "model_loading");
  CHECK(status_of(client.Get("/metrics")) == 401);  // the key guards /metrics too
  auto scrape = client.Get("/metrics", key);
  REQUIRE(scrape);
  CHECK(status_of(scrape) == 200);
  CHECK(sample(scrape->body, "smoe_model_loaded") == "0");

  context.phase = smoe::server::ServerContext::Phase::ready;
  health = client.Get("/health");
  REQUIRE(health);
  CHECK(status_of(health) == 200);
  CHECK(health->body == R"({"status":"ok"})");

  // Draining after a failed load: no model, and nothing dereferences it.
  context.phase = smoe::server::ServerContext::Phase::draining;
  health = client.Get("/health");
  REQUIRE(health);
  CHECK(status_of(health) == 503);
  CHECK(health->body == R"({"status":"shutting_down"})");
  CHECK(status_of(client.Get("/metrics", key)) == 200);
  chat = client.Post("/v1/chat/completions", key, R"({"messages": [{"role": "user", "content": "hi"}]})",
                     "application/json");
  CHECK(status_of(chat) == 503);
  CHECK(code_of(chat) == "shutting_down");

  http.stop();
  listener.join();
}
