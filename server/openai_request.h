// Request bodies of POST /v1/chat/completions and /v1/completions, parsed and checked against
// OpenAI's shapes. A malformed body or a field of the wrong type or range throws ApiError 400
// naming the field (`param`); fields this server does not use are ignored, as OpenAI's
// clients send many.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smoe/chat.h"
#include "smoe/options.h"

namespace smoe::server {

// What both endpoints share.
struct CompletionParams {
  std::string model;                 // "" = not given (the served model)
  std::optional<int32_t> max_tokens;  // max_tokens or max_completion_tokens; unset = up to the context
  SamplerOptions sampler;            // temperature, top_p, top_k, min_p, seed, repeat_penalty
  std::vector<std::string> stop;     // "stop": a string or a list of strings
  bool stream = false;               // answer as server-sent events
  bool include_usage = false;        // stream_options.include_usage: a last chunk with usage
  bool ignore_eos = false;           // llama.cpp's extension: generate past end tokens (benchmarks)
};

struct ChatRequest {
  CompletionParams params;
  std::vector<ChatMessage> messages;  // at least one
  ChatOptions chat;                   // tools for the template
};

struct TextRequest {
  CompletionParams params;
  std::string prompt;  // a string, or a list holding one string
};

// `defaults` are the server's sampling defaults, overridden by the request's fields.
ChatRequest parse_chat_request(std::string_view body, const SamplerOptions& defaults);
TextRequest parse_completion_request(std::string_view body, const SamplerOptions& defaults);

}  // namespace smoe::server
