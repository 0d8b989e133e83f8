// The model's tokenizer: the SentencePiece model embedded in the container plus the special
// and added tokens of the release (control tokens such as "[INST]", ChatML's "<|im_start|>"
// appended past the SentencePiece vocabulary). Thread-safe: every method is const.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smoe {

// A token matched as a whole string before SentencePiece sees the text (Hugging Face's
// "added tokens"): SentencePiece CONTROL and USER_DEFINED pieces, and ids appended past the
// SentencePiece model (ChatML's "<|im_start|>" = 32000 in a 32002-token vocabulary).
struct SpecialToken {
  int32_t id = 0;
  std::string text;     // e.g. "<s>", "[INST]", "<|im_end|>"
  bool special = true;  // hidden when decoding without show_special (HF's skip_special_tokens); false: an added word
};

// What the container records about the vocabulary beyond the SentencePiece model.
struct TokenizerConfig {
  std::vector<SpecialToken> added_tokens;  // may repeat SentencePiece's own CONTROL / USER_DEFINED pieces
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  std::vector<int32_t> end_ids;  // generation stops at any of these (eos_id is always one); may be empty
  int32_t vocab_size = 0;        // rows of the embedding; 0 = the SentencePiece model's size (or its largest added id + 1)
};

// One piece of a text split at special-token strings: a special token (id >= 0, text its string)
// or plain text between them (id = -1).
struct TextSegment {
  int32_t id = -1;
  std::string_view text;
};

class Tokenizer {
 public:
  // Parses a serialized SentencePiece model; throws smoe::Error naming `where` when it cannot or
  // when `config` is inconsistent (ids outside vocab_size, one string with two ids). An added
  // token for an id inside the SentencePiece model replaces that piece, as Hugging Face's added
  // vocabulary takes precedence.
  Tokenizer(std::string_view model_bytes, const std::string& where, TokenizerConfig config);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of plain `text` (special strings are ordinary characters), BOS first when `add_bos`.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;
  // Token ids of `text` with special-token strings recognized, as Hugging Face tokenizes a
  // rendered chat template: special strings matched first (leftmost, longest), the text between
  // them encoded by SentencePiece one segment at a time.
  std::vector<int32_t> encode_with_special(std::string_view text, bool add_bos) const;
  // `text` split at its special-token strings (leftmost, longest match); the views point into `text`.
  std::vector<TextSegment> split_special(std::string_view text) const;
  // Text of `ids`. Special tokens (BOS, EOS, "[INST]", "<|im_end|>") are left out unless
  // `show_special`; added tokens that are not special always show.
  std::string decode(const std::vector<int32_t>& ids, bool show_special = false) const;
  // Raw bytes one token stands for: "▁" becomes a space, byte-fallback tokens their byte,
  // special tokens nothing (their string with `show_special`). Concatenated pieces may split a
  // UTF-8 character: see Utf8Stream.
  std::string token_bytes(int32_t id, bool show_special = false) const;

  bool is_special(int32_t id) const;  // a special token (hidden by decode without show_special)
  bool is_end(int32_t id) const;      // one of end_ids()
  const std::vector<int32_t>& end_ids() const;  // where generation stops: eos_id and the release's other end tokens
  const std::vector<SpecialToken>& special_tokens() const;  // every added token, by id
  // The id of a special-token string ("<|im_end|>"), or -1.
  int32_t special_id(std::string_view text) const;

  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t vocab_size() const;  // embedding rows: SentencePiece pieces plus added tokens past them

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Streaming detokenization: feed token bytes, get back only complete, valid UTF-8, so a
// terminal or a JSON document never sees half a character when byte-fallback tokens split one.
// Bytes that can never form a valid character become U+FFFD. Not thread-safe.
class Utf8Stream {
 public:
  // Appends bytes and returns the valid UTF-8 ready so far: everything but a trailing sequence
  // that may still complete; invalid bytes replaced by U+FFFD.
  std::string push(std::string_view bytes);
  // Returns whatever is left, an incomplete trailing sequence as U+FFFD.
  std::string flush();

 private:
  std::string pending_;
};

// `bytes` as valid UTF-8: each maximal invalid subsequence replaced by U+FFFD (as Python's
// bytes.decode("utf-8", "replace")).
std::string valid_utf8(std::string_view bytes);

}  // namespace smoe
