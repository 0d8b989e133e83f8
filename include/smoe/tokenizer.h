// The model's SentencePiece tokenizer, loaded from the bytes embedded in the container.
// Thread-safe: every method is const.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smoe {

class Tokenizer {
 public:
  // Parses a serialized SentencePiece model; throws smoe::Error naming `where` when it cannot.
  Tokenizer(std::string_view model_bytes, const std::string& where, int32_t bos_id, int32_t eos_id);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text`, with the BOS id first when `add_bos`.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;
  // Text of `ids` (control tokens such as BOS/EOS produce nothing).
  std::string decode(const std::vector<int32_t>& ids) const;
  // Raw bytes one token stands for: "▁" becomes a space, byte-fallback tokens their byte,
  // control tokens nothing. Concatenated pieces may split a UTF-8 character: see Utf8Stream.
  std::string token_bytes(int32_t id) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t vocab_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int32_t bos_id_;
  int32_t eos_id_;
};

// Streaming detokenization: feed token bytes, get back only complete UTF-8 characters, so a
// terminal never shows half a character when byte-fallback tokens split one. Not thread-safe.
class Utf8Stream {
 public:
  // Appends bytes and returns the longest prefix of pending bytes that ends on a character boundary.
  std::string push(std::string_view bytes);
  // Returns whatever is left (an incomplete trailing sequence is returned as is).
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace smoe
