// The special and added tokens of a release, gathered from whichever of its files list them
// (the SentencePiece model's own CONTROL / USER_DEFINED pieces, Hugging Face's tokenizer.json,
// added_tokens.json, special_tokens_map.json, tokenizer_config.json, generation_config.json,
// config.json), checked against each other and the vocabulary, written once for every reader.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "convert/checkpoint.h"
#include "smoe/hyperparameters.h"
#include "smoe/tokenizer.h"

namespace smoe::convert {

// Added tokens by id, merged from several files. Not thread-safe.
class AddedTokens {
 public:
  explicit AddedTokens(uint32_t vocab_size) : vocab_size_(vocab_size) {}
  // Adds `text` as token `id`; a token already known keeps its id, and is special when any file
  // says so. Throws smoe::Error naming `path` for an id outside the vocabulary, an empty string,
  // or an id or a string that an earlier file gave another string or id.
  void add(int64_t id, const std::string& text, bool special, const std::string& path);
  // The SentencePiece model's CONTROL and UNKNOWN pieces (special) and USER_DEFINED pieces
  // (added words, matched whole as Hugging Face and llama.cpp do).
  void add_model_pieces(const std::string& model_bytes, const std::string& path);
  // Marks a known token special (a string special_tokens_map.json names); unknown strings are ignored.
  void mark_special(const std::string& text);
  std::optional<int32_t> find(const std::string& text) const;
  bool contains(int32_t id) const { return by_id_.contains(id); }
  std::vector<SpecialToken> list() const;  // by id

 private:
  uint32_t vocab_size_;
  std::map<int32_t, SpecialToken> by_id_;
  std::map<int32_t, std::string> file_of_;  // the file that first named each id, for messages
  std::map<std::string, int32_t> id_of_;
  std::set<int32_t> from_model_;  // ids known only from the SentencePiece model, which the release's files may rename
};

// What a reader stores beyond the SentencePiece model.
struct ReleaseTokens {
  TokenizerConfig config;                                  // added_tokens and end_ids
  std::map<std::string, std::string> template_variables;   // bos_token, eos_token, unk_token, pad_token
  std::vector<SourceFile> files;                           // the files read, for provenance
};

// A Hugging Face directory's tokens: tokenizer.json, added_tokens.json, special_tokens_map.json,
// tokenizer_config.json and generation_config.json when present, config.json's eos_token_id
// (an id or a list). `tokenizer_model` is the release's SentencePiece model. Throws smoe::Error
// naming the file for malformed entries and conflicts.
ReleaseTokens read_hf_release_tokens(const std::string& directory, const std::string& tokenizer_model,
                                     const Hyperparameters& hp);

// Tokens of a release whose only tokenizer file is the SentencePiece model (Mistral's layout):
// its CONTROL / USER_DEFINED pieces, and its bos / eos / unk / pad pieces as template variables.
ReleaseTokens sentencepiece_release_tokens(const std::string& tokenizer_model, const std::string& path,
                                           const Hyperparameters& hp);

// Every id the release names (bos, eos, end ids) must be a SentencePiece piece or an added
// token: rows past the model that nothing names are padding, but a named one needs its text.
void check_named_ids(const TokenizerConfig& config, const Hyperparameters& hp, int32_t pieces, const std::string& where);

// The SentencePiece model's piece count (the model is already validated).
int32_t sentencepiece_piece_count(const std::string& tokenizer_model);

}  // namespace smoe::convert
