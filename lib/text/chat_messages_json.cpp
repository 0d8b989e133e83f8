// Chat messages to and from OpenAI's JSON form (the CLI's --messages files, saved sessions).
#include <nlohmann/json.hpp>

#include "smoe/chat.h"
#include "smoe/error.h"

namespace smoe {
namespace {

std::string string_field(const nlohmann::json& message, const char* key, const std::string& where, size_t index,
                         bool required) {
  const auto found = message.find(key);
  if (found == message.end() || found->is_null()) {
    if (required) throw Error(where, "message " + std::to_string(index) + " has no '" + key + "'");
    return {};
  }
  if (!found->is_string()) throw Error(where, "message " + std::to_string(index) + ": '" + key + "' is not a string");
  return found->get<std::string>();
}

// content: a string, null, or a list of parts of which the text parts are joined.
std::string content_of(const nlohmann::json& message, const std::string& where, size_t index) {
  const auto content = message.find("content");
  if (content == message.end() || content->is_null()) return {};
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) {
    throw Error(where, "message " + std::to_string(index) + ": 'content' is neither a string nor a list of parts");
  }
  std::string text;
  for (const nlohmann::json& part : *content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
      throw Error(where, "message " + std::to_string(index) + ": only text content parts are supported, got " + part.dump());
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

ToolCall tool_call_of(const nlohmann::json& call, const std::string& where, size_t index) {
  const std::string what = "message " + std::to_string(index) + ": tool call ";
  if (!call.is_object()) throw Error(where, what + "is not an object");
  const auto function = call.find("function");
  if (function == call.end() || !function->is_object() || !function->contains("name") || !(*function)["name"].is_string()) {
    throw Error(where, what + "has no function with a name");
  }
  ToolCall result;
  if (const auto id = call.find("id"); id != call.end() && !id->is_null()) {
    if (!id->is_string()) throw Error(where, what + "id is not a string");
    result.id = id->get<std::string>();
  }
  result.name = (*function)["name"].get<std::string>();
  if (const auto arguments = function->find("arguments"); arguments != function->end()) {
    result.arguments = arguments->is_string() ? arguments->get<std::string>() : arguments->dump();
  }
  return result;
}

}  // namespace

std::vector<ChatMessage> chat_messages_from_json(std::string_view json_text, const std::string& where) {
  const nlohmann::json json = nlohmann::json::parse(json_text, nullptr, false);
  if (json.is_discarded()) throw Error(where, "malformed JSON");
  if (!json.is_array()) throw Error(where, "expected a JSON list of messages");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < json.size(); ++i) {
    const nlohmann::json& entry = json[i];
    if (!entry.is_object()) throw Error(where, "message " + std::to_string(i) + " is not an object");
    ChatMessage message;
    message.role = string_field(entry, "role", where, i, true);
    message.content = content_of(entry, where, i);
    if (const auto calls = entry.find("tool_calls"); calls != entry.end() && !calls->is_null()) {
      if (!calls->is_array()) throw Error(where, "message " + std::to_string(i) + ": 'tool_calls' is not a list");
      for (const nlohmann::json& call : *calls) message.tool_calls.push_back(tool_call_of(call, where, i));
    }
    message.tool_call_id = string_field(entry, "tool_call_id", where, i, false);
    message.name = string_field(entry, "name", where, i, false);
    messages.push_back(std::move(message));
  }
  return messages;
}

std::string chat_messages_to_json(const std::vector<ChatMessage>& messages) {
  nlohmann::json list = nlohmann::json::array();
  for (const ChatMessage& message : messages) {
    nlohmann::json entry = {{"role", message.role}, {"content", message.content}};
    if (!message.tool_calls.empty()) {
      nlohmann::json calls = nlohmann::json::array();
      for (const ToolCall& call : message.tool_calls) {
        calls.push_back({{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
      }
      entry["tool_calls"] = std::move(calls);
    }
    if (!message.tool_call_id.empty()) entry["tool_call_id"] = message.tool_call_id;
    if (!message.name.empty()) entry["name"] = message.name;
    list.push_back(std::move(entry));
  }
  return list.dump();
}

}  // namespace smoe
