// Chat messages as JSON values in OpenAI's form, written once for the chat template's
// variables, saved sessions and the public text functions of smoe/chat.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "smoe/chat.h"

namespace smoe::text {

// How a tool call's arguments appear: as the JSON text OpenAI sends, or (for templates, which
// index them as a mapping) as the value that text spells, the string itself when it is not JSON.
enum class ToolArguments { text, value };

// Keys in the order role, content, tool_calls, tool_call_id, name (tojson keeps it); the
// optional ones and a tool call's id only when not empty.
nlohmann::ordered_json messages_to_json(const std::vector<ChatMessage>& messages, ToolArguments arguments);

// Throws smoe::Error naming `where` and the message that is malformed.
std::vector<ChatMessage> messages_from_json(const nlohmann::ordered_json& json, const std::string& where);

}  // namespace smoe::text
