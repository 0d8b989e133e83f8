// Chat messages to and from OpenAI's JSON form (the chat template's variables, the CLI's
// --messages files, saved sessions).
#include "text/chat_messages_json.h"

#include "smoe/error.h"

namespace smoe::text {
namespace {

using Json = nlohmann::ordered_json;

std::string string_field(const Json& message, const char* key, const std::string& where, size_t index,
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
std::string content_of(const Json& message, const std::string& where, size_t index) {
  const auto content = message.find("content");
  if (content == message.end() || content->is_null()) return {};
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) {
    throw Error(where, "message " + std::to_string(index) + ": 'content' is neither a string nor a list of parts");
  }
  std::string text;
  for (const Json& part : *content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
      throw Error(where, "message " + std::to_string(index) + ": only text content parts are supported, got " + part.dump());
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

ToolCall tool_call_of(const Json& call, const std::string& where, size_t index) {
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

std::vector<ChatMessage> messages_from_json(const Json& json, const std::string& where) {
  if (!json.is_array()) throw Error(where, "expected a JSON list of messages");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& entry = json[i];
    if (!entry.is_object()) throw Error(where, "message " + std::to_string(i) + " is not an object");
    ChatMessage message;
    message.role = string_field(entry, "role", where, i, true);
    message.content = content_of(entry, where, i);
    if (const auto calls = entry.find("tool_calls"); calls != entry.end() && !calls->is_null()) {
      if (!calls->is_array()) throw Error(where, "message " + std::to_string(i) + ": 'tool_calls' is not a list");
      for (const Json& call : *calls) message.tool_calls.push_back(tool_call_of(call, where, i));
    }
    message.tool_call_id = string_field(entry, "tool_call_id", where, i, false);
    message.name = string_field(entry, "name", where, i, false);
    messages.push_back(std::move(message));
  }
  return messages;
}

Json messages_to_json(const std::vector<ChatMessage>& messages, ToolArguments arguments) {
  Json list = Json::array();
  for (const ChatMessage& message : messages) {
    Json entry = {{"role", message.role}, {"content", message.content}};
    if (!message.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ToolCall& call : message.tool_calls) {
        Json value = call.arguments;
        if (arguments == ToolArguments::value) {
          value = Json::parse(call.arguments, nullptr, false);
          if (value.is_discarded()) value = call.arguments;
        }
        Json item = Json::object();
        if (!call.id.empty()) item["id"] = call.id;
        item["type"] = "function";
        item["function"] = {{"name", call.name}, {"arguments", std::move(value)}};
        calls.push_back(std::move(item));
      }
      entry["tool_calls"] = std::move(calls);
    }
    if (!message.tool_call_id.empty()) entry["tool_call_id"] = message.tool_call_id;
    if (!message.name.empty()) entry["name"] = message.name;
    list.push_back(std::move(entry));
  }
  return list;
}

}  // namespace smoe::text

namespace smoe {

std::vector<ChatMessage> chat_messages_from_json(std::string_view json_text, const std::string& where) {
  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(json_text, nullptr, false);
  if (json.is_discarded()) throw Error(where, "malformed JSON");
  return text::messages_from_json(json, where);
}

std::string chat_messages_to_json(const std::vector<ChatMessage>& messages) {
  return text::messages_to_json(messages, text::ToolArguments::text).dump();
}

}  // namespace smoe
