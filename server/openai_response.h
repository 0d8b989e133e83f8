// Response bodies in OpenAI's shapes: whole answers, stream chunks (one JSON object per
// server-sent event) and the model list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "job.h"
#include "tool_calls.h"

namespace smoe::server {

// Which endpoint answers: the two differ in object names and where the text goes.
enum class Endpoint { chat, completion };

// Identity shared by one response's chunks.
struct ResponseHeader {
  Endpoint endpoint = Endpoint::chat;
  std::string id;       // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;    // the served model's name
};

ResponseHeader make_header(Endpoint endpoint, const std::string& model);
nlohmann::json usage_json(const Usage& usage);
// A whole answer (stream false).
nlohmann::json answer_json(const ResponseHeader& header, const std::string& text, FinishReason finish, const Usage& usage);
// A whole chat answer that calls tools: message.tool_calls, finish_reason "tool_calls".
nlohmann::json tool_call_answer_json(const ResponseHeader& header, const ToolCallAnswer& answer, const Usage& usage);
// The stream chunk carrying an answer's tool calls (delta.tool_calls, each with its index).
nlohmann::json tool_call_chunk_json(const ResponseHeader& header, const std::vector<ToolCall>& calls);
// A stream chunk carrying `text`; the first chat chunk also names the role; `finish` on the last one.
nlohmann::json chunk_json(const ResponseHeader& header, const std::string& text, bool first,
                          std::optional<FinishReason> finish);
// The usage chunk stream_options.include_usage asks for: no choices.
nlohmann::json usage_chunk_json(const ResponseHeader& header, const Usage& usage);
// GET /v1/models.
nlohmann::json models_json(const std::string& model, int64_t created);

// JSON text that is always valid UTF-8 (generated text is; this guards against anything else).
std::string json_text(const nlohmann::json& json);

}  // namespace smoe::server
