// Chats to tokens: the template renders the messages, the tokenizer splits the text at
// special-token strings. Message content is shielded from that split unless the caller asks
// otherwise, so a user who types "[INST]" or "<|im_start|>" cannot forge a turn marker.
#include <algorithm>
#include <string>

#include "runtime/model_impl.h"
#include "smoe/error.h"

namespace smoe {
namespace {

// Special strings inside content are swapped for placeholders no tokenizer matches: U+E000
// followed by a code point of the supplementary private use area A naming the special token
// (U+F0000 + its index), and a literal U+E000 in content as U+E000 U+10FFFD. The rendered text
// is split, then the placeholders in its plain segments are put back before SentencePiece sees
// them. Templates that slice content could cut a placeholder; none of the released ones do.
constexpr std::string_view kMark = "\xee\x80\x80";  // U+E000
constexpr uint32_t kFirstIndexCodePoint = 0xF0000, kMarkEscape = 0x10FFFD;
constexpr size_t kMaxShielded = 0xFFFE;  // code points U+F0000..U+FFFFD

std::string code_point_utf8(uint32_t cp) {  // cp >= 0x10000
  return {static_cast<char>(0xf0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3f)),
          static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), static_cast<char>(0x80 | (cp & 0x3f))};
}

uint32_t code_point_at(std::string_view text, size_t at) {  // a 4-byte sequence
  return (uint32_t(uint8_t(text[at]) & 0x07) << 18) | (uint32_t(uint8_t(text[at + 1]) & 0x3f) << 12) |
         (uint32_t(uint8_t(text[at + 2]) & 0x3f) << 6) | (uint32_t(uint8_t(text[at + 3]) & 0x3f));
}

std::string shield_content(const std::string& content, const Tokenizer& tokenizer,
                           const std::vector<SpecialToken>& specials) {
  std::string out;
  for (const TextSegment& segment : tokenizer.split_special(content)) {
    if (segment.id >= 0) {
      // specials is sorted by id
      const auto found = std::lower_bound(specials.begin(), specials.end(), segment.id,
                                          [](const SpecialToken& token, int32_t id) { return token.id < id; });
      out += kMark;
      out += code_point_utf8(kFirstIndexCodePoint + static_cast<uint32_t>(found - specials.begin()));
      continue;
    }
    for (size_t at = 0; at < segment.text.size();) {
      if (segment.text.compare(at, kMark.size(), kMark) == 0) {
        out += kMark;
        out += code_point_utf8(kMarkEscape);
        at += kMark.size();
      } else {
        out += segment.text[at++];
      }
    }
  }
  return out;
}

std::string unshield(std::string_view text, const std::vector<SpecialToken>& specials) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    if (text.compare(at, kMark.size(), kMark) == 0 && at + kMark.size() + 4 <= text.size()) {
      const uint32_t cp = code_point_at(text, at + kMark.size());
      if (cp == kMarkEscape) {
        out += kMark;
        at += kMark.size() + 4;
        continue;
      }
      if (cp >= kFirstIndexCodePoint && cp - kFirstIndexCodePoint < specials.size()) {
        out += specials[cp - kFirstIndexCodePoint].text;
        at += kMark.size() + 4;
        continue;
      }
    }
    out += text[at++];
  }
  return out;
}

}  // namespace

ChatPrompt Model::apply_chat_template(const std::vector<ChatMessage>& messages, const ChatOptions& options) const {
  const Tokenizer& tokenizer = *impl_->tokenizer;
  ChatPrompt prompt;
  if (options.parse_special_in_content) {
    prompt.text = impl_->chat_template.render(messages, options);
    prompt.ids = tokenizer.encode_with_special(prompt.text, false);
    return prompt;
  }
  const std::vector<SpecialToken>& specials = tokenizer.special_tokens();
  if (specials.size() > kMaxShielded) throw Error(impl_->info.path, "too many special tokens to shield message content");
  std::vector<ChatMessage> shielded = messages;
  for (ChatMessage& message : shielded) message.content = shield_content(message.content, tokenizer, specials);
  const std::string text = impl_->chat_template.render(shielded, options);
  for (const TextSegment& segment : tokenizer.split_special(text)) {
    if (segment.id >= 0) {
      prompt.ids.push_back(segment.id);
      prompt.text += segment.text;
      continue;
    }
    const std::string plain = unshield(segment.text, specials);
    const std::vector<int32_t> pieces = tokenizer.encode(plain, false);
    prompt.ids.insert(prompt.ids.end(), pieces.begin(), pieces.end());
    prompt.text += plain;
  }
  return prompt;
}

std::vector<int32_t> Model::tokenize_chat(const std::vector<ChatMessage>& messages, const ChatOptions& options) const {
  return apply_chat_template(messages, options).ids;
}

size_t Model::fit_chat(std::vector<ChatMessage>& messages, uint32_t max_tokens, const ChatOptions& options) const {
  const size_t first_turn = !messages.empty() && messages.front().role == "system" ? 1 : 0;
  size_t dropped = 0;
  while (tokenize_chat(messages, options).size() > max_tokens) {
    // Keep the last user message (and its answer in progress): drop the oldest pair before it.
    if (messages.size() < first_turn + 3) {
      throw Error(impl_->info.path, "the last message alone needs more than " + std::to_string(max_tokens) +
                                        " tokens of context");
    }
    const size_t count = messages[first_turn + 1].role == "assistant" ? 2 : 1;
    messages.erase(messages.begin() + long(first_turn), messages.begin() + long(first_turn + count));
    dropped += count;
  }
  return dropped;
}

}  // namespace smoe
