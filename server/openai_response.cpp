// OpenAI's response objects: chat.completion / chat.completion.chunk and text_completion.
#include "openai_response.h"

#include <chrono>

#include "random_id.h"

namespace smoe::server {
namespace {

using nlohmann::json;

json base(const ResponseHeader& header, const char* object) {
  return {{"id", header.id}, {"object", object}, {"created", header.created}, {"model", header.model}};
}

json finish_json(std::optional<FinishReason> finish) {
  return finish ? json(finish_reason_name(*finish)) : json(nullptr);
}

json tool_calls_json(const std::vector<ToolCall>& calls, bool indexed) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = {{"id", calls[i].id},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (indexed) call["index"] = i;
    out.push_back(std::move(call));
  }
  return out;
}

}  // namespace

ResponseHeader make_header(Endpoint endpoint, const std::string& model) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {endpoint, random_id(endpoint == Endpoint::chat ? "chatcmpl-" : "cmpl-", 24),
          std::chrono::duration_cast<std::chrono::seconds>(now).count(), model};
}

json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

json answer_json(const ResponseHeader& header, const std::string& text, FinishReason finish, const Usage& usage) {
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason_name(finish)}};
  json out;
  if (header.endpoint == Endpoint::chat) {
    out = base(header, "chat.completion");
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    out = base(header, "text_completion");
    choice["text"] = text;
  }
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(usage);
  return out;
}

json chunk_json(const ResponseHeader& header, const std::string& text, bool first, std::optional<FinishReason> finish) {
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_json(finish)}};
  json out;
  if (header.endpoint == Endpoint::chat) {
    out = base(header, "chat.completion.chunk");
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (first && !finish)) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    out = base(header, "text_completion");
    choice["text"] = text;
  }
  out["choices"] = json::array({choice});
  return out;
}

json tool_call_answer_json(const ResponseHeader& header, const ToolCallAnswer& answer, const Usage& usage) {
  json out = base(header, "chat.completion");
  json message = {{"role", "assistant"},
                  {"content", answer.content.empty() ? json(nullptr) : json(answer.content)},
                  {"tool_calls", tool_calls_json(answer.calls, false)}};
  out["choices"] = json::array(
      {{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", "tool_calls"}, {"message", std::move(message)}}});
  out["usage"] = usage_json(usage);
  return out;
}

json tool_call_chunk_json(const ResponseHeader& header, const std::vector<ToolCall>& calls) {
  json out = base(header, "chat.completion.chunk");
  out["choices"] = json::array({{{"index", 0},
                                 {"logprobs", nullptr},
                                 {"finish_reason", nullptr},
                                 {"delta", {{"tool_calls", tool_calls_json(calls, true)}}}}});
  return out;
}

json usage_chunk_json(const ResponseHeader& header, const Usage& usage) {
  json out = base(header, header.endpoint == Endpoint::chat ? "chat.completion.chunk" : "text_completion");
  out["choices"] = json::array();
  out["usage"] = usage_json(usage);
  return out;
}

json models_json(const std::string& model, int64_t created) {
  return {{"object", "list"},
          {"data", json::array({{{"id", model}, {"object", "model"}, {"created", created}, {"owned_by", "smoe"}}})}};
}

std::string json_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace smoe::server
