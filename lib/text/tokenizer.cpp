// SentencePiece behind smoe::Tokenizer, with the release's special and added tokens matched
// as whole strings first, as Hugging Face's tokenizers do.
#include "smoe/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "smoe/error.h"

namespace smoe {

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
  int32_t piece_count = 0;  // ids below this are SentencePiece's
  int32_t vocab_size = 0;
  int32_t bos_id = 1, eos_id = 2;
  std::vector<SpecialToken> specials;                   // by id
  std::unordered_map<int32_t, size_t> special_by_id;    // id -> index into specials
  std::unordered_map<std::string, int32_t> id_by_text;  // matched strings
  // Candidates by first byte, longest first, so the first hit at a position is the longest.
  std::array<std::vector<const SpecialToken*>, 256> by_first_byte;
  std::vector<int32_t> end_ids;

  const SpecialToken* special(int32_t id) const {
    const auto found = special_by_id.find(id);
    return found == special_by_id.end() ? nullptr : &specials[found->second];
  }
  // The longest special string starting at text[at], or nullptr.
  const SpecialToken* match_at(std::string_view text, size_t at) const {
    for (const SpecialToken* token : by_first_byte[static_cast<uint8_t>(text[at])]) {
      if (text.compare(at, token->text.size(), token->text) == 0) return token;
    }
    return nullptr;
  }
  void add_special(SpecialToken token, const std::string& where);
  std::vector<int32_t> encode_plain(std::string_view text) const {
    std::vector<int> pieces;
    const auto status = processor.Encode(text, &pieces);
    if (!status.ok()) throw Error("tokenizer", "cannot encode text: " + status.ToString());
    return {pieces.begin(), pieces.end()};
  }
};

void Tokenizer::Impl::add_special(SpecialToken token, const std::string& where) {
  Impl& impl = *this;
  if (token.text.empty()) throw Error(where, "added token " + std::to_string(token.id) + " has an empty string");
  if (token.id < 0 || token.id >= impl.vocab_size) {
    throw Error(where, "added token '" + token.text + "' has id " + std::to_string(token.id) +
                           " outside the vocabulary of " + std::to_string(impl.vocab_size));
  }
  if (const auto known = impl.id_by_text.find(token.text); known != impl.id_by_text.end() && known->second != token.id) {
    throw Error(where, "added token '" + token.text + "' has two ids: " + std::to_string(known->second) + " and " +
                           std::to_string(token.id));
  }
  // A later entry for the same id wins (the release's own list over SentencePiece's piece).
  if (const auto found = impl.special_by_id.find(token.id); found != impl.special_by_id.end()) {
    impl.id_by_text.erase(impl.specials[found->second].text);
    impl.specials[found->second] = token;
  } else {
    impl.special_by_id[token.id] = impl.specials.size();
    impl.specials.push_back(token);
  }
  impl.id_by_text[token.text] = token.id;
}

Tokenizer::Tokenizer(std::string_view model_bytes, const std::string& where, TokenizerConfig config)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  const auto status = impl.processor.LoadFromSerializedProto(model_bytes);
  if (!status.ok()) throw Error(where, "embedded tokenizer is not a valid SentencePiece model: " + status.ToString());
  impl.piece_count = impl.processor.GetPieceSize();
  int32_t largest_added = -1;
  for (const SpecialToken& token : config.added_tokens) largest_added = std::max(largest_added, token.id);
  impl.vocab_size = config.vocab_size > 0 ? config.vocab_size : std::max(impl.piece_count, largest_added + 1);
  if (impl.vocab_size < impl.piece_count) {
    throw Error(where, "the SentencePiece model has " + std::to_string(impl.piece_count) + " pieces, more than the " +
                           std::to_string(impl.vocab_size) + " of the vocabulary");
  }
  // SentencePiece's own CONTROL and UNKNOWN pieces are special, as in the added_tokens of the
  // release's tokenizer.json. (Its USER_DEFINED pieces come in config.added_tokens: the
  // converter reads their types; this SentencePiece API does not expose them.)
  for (int32_t id = 0; id < impl.piece_count; ++id) {
    if (impl.processor.IsControl(id) || impl.processor.IsUnknown(id)) impl.add_special({id, impl.processor.IdToPiece(id), true}, where);
  }
  for (const SpecialToken& token : config.added_tokens) impl.add_special(token, where);
  std::sort(impl.specials.begin(), impl.specials.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  impl.special_by_id.clear();
  for (size_t i = 0; i < impl.specials.size(); ++i) impl.special_by_id[impl.specials[i].id] = i;
  for (const SpecialToken& token : impl.specials) {
    impl.by_first_byte[static_cast<uint8_t>(token.text[0])].push_back(&token);
  }
  for (auto& candidates : impl.by_first_byte) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const SpecialToken* a, const SpecialToken* b) { return a->text.size() > b->text.size(); });
  }
  impl.bos_id = config.bos_id;
  impl.eos_id = config.eos_id;
  for (int32_t id : {config.bos_id, config.eos_id}) {
    if (id < 0 || id >= impl.vocab_size) {
      throw Error(where, "bos/eos id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(impl.vocab_size));
    }
  }
  impl.end_ids.push_back(config.eos_id);
  for (int32_t id : config.end_ids) {
    if (id < 0 || id >= impl.vocab_size) {
      throw Error(where, "end token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(impl.vocab_size));
    }
    if (std::find(impl.end_ids.begin(), impl.end_ids.end(), id) == impl.end_ids.end()) impl.end_ids.push_back(id);
  }
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(impl_->bos_id);
  const std::vector<int32_t> pieces = impl_->encode_plain(text);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  return ids;
}

std::vector<TextSegment> Tokenizer::split_special(std::string_view text) const {
  std::vector<TextSegment> segments;
  size_t plain_start = 0;
  for (size_t at = 0; at < text.size();) {
    const SpecialToken* token = impl_->match_at(text, at);
    if (!token) {
      ++at;
      continue;
    }
    if (at > plain_start) segments.push_back({-1, text.substr(plain_start, at - plain_start)});
    segments.push_back({token->id, text.substr(at, token->text.size())});
    at += token->text.size();
    plain_start = at;
  }
  if (plain_start < text.size()) segments.push_back({-1, text.substr(plain_start)});
  return segments;
}

std::vector<int32_t> Tokenizer::encode_with_special(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(impl_->bos_id);
  for (const TextSegment& segment : split_special(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else {
      const std::vector<int32_t> pieces = impl_->encode_plain(segment.text);
      ids.insert(ids.end(), pieces.begin(), pieces.end());
    }
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool show_special) const {
  // Runs of SentencePiece ids decode together (SentencePiece drops the leading space its
  // encoder added); added tokens break the runs, as each text segment was encoded on its own.
  std::string text;
  std::vector<int> run;
  auto flush_run = [&] {
    if (run.empty()) return;
    std::string decoded;
    const auto status = impl_->processor.Decode(run, &decoded);
    if (!status.ok()) throw Error("tokenizer", "cannot decode ids: " + status.ToString());
    text += decoded;
    run.clear();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= impl_->vocab_size) throw Error("tokenizer", "token id " + std::to_string(id) + " is outside the vocabulary");
    if (const SpecialToken* token = impl_->special(id)) {
      flush_run();
      if (show_special || !token->special) text += token->text;
    } else if (id < impl_->piece_count) {
      run.push_back(id);
    }
  }
  flush_run();
  return text;
}

std::string Tokenizer::token_bytes(int32_t id, bool show_special) const {
  if (id < 0 || id >= impl_->vocab_size) return {};
  if (const SpecialToken* token = impl_->special(id)) return show_special || !token->special ? token->text : std::string();
  if (id >= impl_->piece_count) return {};  // an unused row past the SentencePiece model
  const sentencepiece::SentencePieceProcessor& sp = impl_->processor;
  if (sp.IsByte(id)) {
    const std::string piece = sp.IdToPiece(id);  // "<0xAB>"
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  std::string piece = sp.IdToPiece(id);
  static const std::string kSpaceMarker = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
  for (size_t at = piece.find(kSpaceMarker); at != std::string::npos; at = piece.find(kSpaceMarker, at + 1)) {
    piece.replace(at, kSpaceMarker.size(), " ");
  }
  return piece;
}

bool Tokenizer::is_special(int32_t id) const {
  const SpecialToken* token = impl_->special(id);
  return token && token->special;
}

bool Tokenizer::is_end(int32_t id) const {
  return std::find(impl_->end_ids.begin(), impl_->end_ids.end(), id) != impl_->end_ids.end();
}

const std::vector<int32_t>& Tokenizer::end_ids() const { return impl_->end_ids; }
const std::vector<SpecialToken>& Tokenizer::special_tokens() const { return impl_->specials; }

int32_t Tokenizer::special_id(std::string_view text) const {
  const auto found = impl_->id_by_text.find(std::string(text));
  return found == impl_->id_by_text.end() ? -1 : found->second;
}

int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

}  // namespace smoe
