// Renderer for the Mistral [INST] chat format, checked against the container's template text.
#include "smoe/chat.h"

#include "smoe/error.h"

namespace smoe {

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)) {
  space_after_close_ = source_.find("[/INST] ") != std::string::npos && source_.find("[/INST]' }}") == std::string::npos &&
                       source_.find("[/INST]'") == std::string::npos;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages) const {
  if (source_.find("[INST]") == std::string::npos) {
    throw Error("chat template", source_.empty() ? "the model has no chat template (use raw prompts)"
                                                 : "unsupported template: only the Mistral [INST] form is implemented");
  }
  std::string system;
  size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  std::string text = "<s>";
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    const bool expect_user = (i - first) % 2 == 0;
    if (message.role != (expect_user ? "user" : "assistant")) {
      throw Error("chat template", "message " + std::to_string(i) + " has role '" + message.role + "', expected '" +
                                       (expect_user ? "user" : "assistant") + "' (roles must alternate)");
    }
    if (expect_user) {
      // Mistral folds the system prompt into the first user message.
      const std::string content = (i == first && !system.empty()) ? system + "\n\n" + message.content : message.content;
      text += "[INST] " + content + " [/INST]";
      if (space_after_close_) text += " ";
    } else {
      text += message.content + "</s>";
    }
  }
  return text;
}

}  // namespace smoe
