// libFuzzer target: the Jinja chat template engine. The input is split at NUL bytes: the first
// part is the template source, the rest alternate message roles and contents.
#include <string>
#include <vector>

#include "smoe/chat.h"
#include "smoe/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      parts.emplace_back();
    } else {
      parts.back().push_back(static_cast<char>(data[i]));
    }
  }
  std::vector<smoe::ChatMessage> messages;
  for (size_t i = 1; i + 1 < parts.size(); i += 2) messages.push_back({parts[i], parts[i + 1]});
  try {
    const smoe::ChatTemplate chat_template(parts[0], {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
    smoe::ChatOptions options;
    options.add_generation_prompt = parts.size() % 2 == 0;
    (void)chat_template.render(messages, options);
  } catch (const smoe::Error&) {
  }
  return 0;
}
