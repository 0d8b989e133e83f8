// smoe::ChatTemplate: the chat's messages as the Jinja variables Hugging Face passes, rendered
// by the template engine.
#include "smoe/chat.h"

#include "smoe/error.h"
#include "text/chat_messages_json.h"
#include "text/jinja/template.h"

namespace smoe {

struct ChatTemplate::Compiled {
  std::shared_ptr<const text::jinja::Template> program;
};

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
  variables["messages"] = text::messages_to_json(messages, text::ToolArguments::value);
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
