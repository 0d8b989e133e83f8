// Chat messages and the model's chat template (Jinja, rendered as Hugging Face renders it).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smoe {

// A function call an assistant message makes. In the template it appears in OpenAI's form:
//   {"id": ID, "type": "function", "function": {"name": NAME, "arguments": ARGUMENTS}}
// with ARGUMENTS parsed from JSON text into an object when it is valid JSON (as Hugging Face
// templates expect), else passed as the string.
struct ToolCall {
  std::string id;         // e.g. "call_0" (Mistral's templates require 9 alphanumerics)
  std::string name;       // the function's name
  std::string arguments;  // the arguments as JSON text, e.g. {"city": "Paris"}
};

struct ChatMessage {
  ChatMessage() = default;
  ChatMessage(std::string message_role, std::string message_content)
      : role(std::move(message_role)), content(std::move(message_content)) {}

  std::string role;                  // "system", "user", "assistant", "tool", or any role the template accepts
  std::string content;               // the message text
  std::vector<ToolCall> tool_calls;  // assistant messages: the tools it calls
  std::string tool_call_id;          // role "tool": the call this message answers ("" = none)
  std::string name;                  // optional author name (role "tool": the function's name); "" = none
};

// Messages from JSON text in OpenAI's chat form: a list of {"role", "content", "tool_calls",
// "tool_call_id", "name"}, content a string, null or a list of {"type": "text", "text"} parts
// (joined), tool call arguments a JSON string or object. Throws smoe::Error naming `where` and
// the message that is malformed.
std::vector<ChatMessage> chat_messages_from_json(std::string_view json_text, const std::string& where);
// The inverse: compact JSON text (tool call arguments as JSON strings, as OpenAI sends them).
std::string chat_messages_to_json(const std::vector<ChatMessage>& messages);

struct ChatOptions {
  // End with the opening of the assistant's turn (Hugging Face's add_generation_prompt).
  bool add_generation_prompt = true;
  // Tool definitions as a JSON array in OpenAI's form ([{"type": "function", "function": {...}}]),
  // given to the template as `tools`; "" = no tools.
  std::string tools;
  // Tokenizing: whether special-token strings inside message content ("[INST]", "<|im_end|>")
  // become special ids, as Hugging Face does, or stay text. Off: a user cannot forge turn
  // markers (prompt injection); only the template's own markers are special.
  bool parse_special_in_content = false;
};

// A chat template as its authors wrote it: a Jinja program rendered as Hugging Face's
// apply_chat_template(tokenize=False) renders it (Jinja2 with trim_blocks and lstrip_blocks,
// tojson as json.dumps(ensure_ascii=False), raise_exception(msg) an error) with the variables
// `messages`, `tools`, `add_generation_prompt`, `bos_token`, `eos_token` and the release's
// other special-token strings. Immutable and thread-safe.
class ChatTemplate {
 public:
  // An empty template: render() throws "the model has no chat template".
  ChatTemplate();
  // Parses `source`; throws smoe::Error("chat template", ...) naming the line and the construct
  // when smoe cannot render it. `variables` are the special-token strings the template sees
  // (bos_token, eos_token, unk_token, pad_token...).
  ChatTemplate(std::string source, std::map<std::string, std::string> variables);
  ~ChatTemplate();
  ChatTemplate(const ChatTemplate&);
  ChatTemplate& operator=(const ChatTemplate&);

  bool empty() const { return source_.empty(); }
  const std::string& source() const { return source_; }
  // The prompt text for `messages`. Throws smoe::Error with the template's own message when it
  // raises (e.g. roles that do not alternate) or when a value has the wrong type.
  std::string render(const std::vector<ChatMessage>& messages, const ChatOptions& options = {}) const;

  struct Compiled;

 private:
  std::string source_;
  std::map<std::string, std::string> variables_;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace smoe
