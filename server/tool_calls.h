// Tool calls in generated text, in the two forms chat templates teach models to write them:
// - Mistral's: the control token [TOOL_CALLS], then a JSON list of {"name", "arguments"}
//   objects (or one such object);
// - Hermes' (ChatML fine-tunes: NousResearch, Qwen): each call as
//   <tool_call>{"name": ..., "arguments": ...}</tool_call>, possibly after some text.
// A request that offers tools gets them back as OpenAI's `tool_calls` (finish_reason
// "tool_calls"); text that only looks like a call (not valid JSON of that shape) stays text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smoe/chat.h"

namespace smoe::server {

// The markers that begin a call ("[TOOL_CALLS]", "<tool_call>").
const std::vector<std::string_view>& tool_call_markers();

struct ToolCallAnswer {
  std::string content;          // the text before the first call ("" = none)
  std::vector<ToolCall> calls;  // at least one; ids of 9 letters and digits (what Mistral's templates accept back)
};

// The calls in a whole answer; nullopt when there are none or they do not parse.
std::optional<ToolCallAnswer> parse_tool_calls(std::string_view text);

// Streaming an answer that may end in calls: text passes through until a marker may begin;
// from a marker on, everything is held back for parse_tool_calls at the end.
class ToolCallHoldBack {
 public:
  // Appends generated text; returns what can be streamed as content now.
  std::string push(std::string_view text);
  // The answer is complete: what was held back (the caller parses it, or streams it as text).
  std::string release();
  // Everything pushed so far, streamed or held.
  const std::string& whole() const { return whole_; }

 private:
  std::string whole_;
  size_t streamed_ = 0;  // bytes of whole_ returned by push()
  bool in_call_ = false;
};

}  // namespace smoe::server
