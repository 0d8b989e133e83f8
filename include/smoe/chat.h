// Chat messages and the model's chat template.
#pragma once

#include <string>
#include <vector>

namespace smoe {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant"
  std::string content;  // the message text
};

// Renders `messages` into the prompt text the model was trained on, from the template stored
// in the container. Supported: the Mistral / Mixtral-Instruct form
//   <s>[INST] {system}\n\n{user} [/INST]{assistant}</s>[INST] {user} [/INST]
// (a system prompt is folded into the first user turn, as Mistral's own code does; the exact
// spacing follows the template text), which covers every Mixtral release. Templates without
// [INST] are refused with smoe::Error. Roles must alternate user/assistant after an optional
// system message. As Hugging Face's apply_chat_template(tokenize=False), the text holds the
// markers "<s>" and "</s>"; Model::tokenize_chat turns them into the BOS/EOS ids.
class ChatTemplate {
 public:
  explicit ChatTemplate(std::string source);
  bool empty() const { return source_.empty(); }
  const std::string& source() const { return source_; }
  // Prompt text for `messages`, starting with "<s>"; ends ready for the assistant's next turn
  // when the last message is from the user.
  std::string render(const std::vector<ChatMessage>& messages) const;

 private:
  std::string source_;
  bool space_after_close_ = false;  // "[/INST] " (some templates) instead of "[/INST]"
};

}  // namespace smoe
