// smoe::ChatTemplate: the chat's messages as the Jinja variables Hugging Face passes, rendered
// by the template engine.
#include "smoe/chat.h"

#include "smoe/error.h"
#include "text/jinja/template.h"

namespace smoe {

struct ChatTemplate::Compiled {
  std::shared_ptr<const text::jinja::Template> program;
};

namespace {

// The message as a dict in OpenAI's / Hugging Face's form; keys in that order (tojson keeps it).
nlohmann::ordered_json message_to_json(const ChatMessage& message) {
  nlohmann::ordered_json json = {{"role", message.role}, {"content", message.content}};
  if (!message.tool_calls.empty()) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::array();
    for (const ToolCall& call : message.tool_calls) {
      // Templates index arguments as a mapping (arguments|tojson, arguments.items()): pass JSON
      // text as the value it spells, anything else as the string.
      nlohmann::ordered_json arguments = nlohmann::ordered_json::parse(call.arguments, nullptr, false);
      if (arguments.is_discarded()) arguments = call.arguments;
      nlohmann::ordered_json entry = nlohmann::ordered_json::object();
      if (!call.id.empty()) entry["id"] = call.id;
      entry["type"] = "function";
      entry["function"] = {{"name", call.name}, {"arguments", arguments}};
      calls.push_back(std::move(entry));
    }
    json["tool_calls"] = std::move(calls);
  }
  if (!message.tool_call_id.empty()) json["tool_call_id"] = message.tool_call_id;
  if (!message.name.empty()) json["name"] = message.name;
  return json;
}

}  // namespace

ChatTemplate::ChatTemplate() = default;
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(const ChatTemplate&) = default;
ChatTemplate& ChatTemplate::operator=(const ChatTemplate&) = default;

ChatTemplate::ChatTemplate(std::string source, std::map<std::string, std::string> variables)
    : source_(std::move(source)), variables_(std::move(variables)) {
  if (!source_.empty()) compiled_ = std::make_shared<const Compiled>(Compiled{text::jinja::Template::parse(source_)});
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatOptions& options) const {
  if (!compiled_) {
    throw Error("chat template", "the model has no chat template (use a raw prompt, or give one with --chat-template FILE)");
  }
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  for (const auto& [name, value] : variables_) variables[name] = value;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ChatMessage& message : messages) list.push_back(message_to_json(message));
  variables["messages"] = std::move(list);
  // As transformers' apply_chat_template: tools is None when the caller gives none.
  variables["tools"] = nullptr;
  if (!options.tools.empty()) {
    nlohmann::ordered_json tools = nlohmann::ordered_json::parse(options.tools, nullptr, false);
    if (tools.is_discarded() || !tools.is_array()) throw Error("chat template", "tools must be a JSON array of tool definitions");
    variables["tools"] = std::move(tools);
  }
  variables["add_generation_prompt"] = options.add_generation_prompt;
  return compiled_->program->render(variables);
}

}  // namespace smoe
