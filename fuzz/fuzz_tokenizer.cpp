// libFuzzer target: the tokenizer (the tiny model's SentencePiece model with ChatML's tokens
// appended past it) on arbitrary bytes: encode with and without special tokens, decode,
// per-token bytes and the UTF-8-safe streaming of arbitrary id sequences.
#include <cstring>
#include <fstream>
#include <sstream>

#include "smoe/error.h"
#include "smoe/tokenizer.h"

namespace {

const smoe::Tokenizer& tokenizer() {
  static const smoe::Tokenizer instance = [] {
    std::ifstream in(SMOE_FUZZ_TOKENIZER, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    smoe::TokenizerConfig config;
    config.added_tokens = {{4096, "<|im_end|>", true}, {4097, "<|im_start|>", true}, {4098, "<|im", false}};
    config.end_ids = {4096};
    return smoe::Tokenizer(bytes.str(), SMOE_FUZZ_TOKENIZER, config);
  }();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const smoe::Tokenizer& t = tokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<int32_t> ids = t.encode(text, true);
  (void)t.decode(ids);
  (void)t.decode(t.encode_with_special(text, false), true);
  // The same bytes as token ids (some out of range: those must be refused or skipped, not read).
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data, raw.size() * 4);
  try {
    (void)t.decode(raw);
    smoe::Utf8Stream stream;
    for (int32_t id : raw) (void)stream.push(t.token_bytes(id, id % 2 == 0));
    (void)stream.flush();
  } catch (const smoe::Error&) {
  }
  return 0;
}
