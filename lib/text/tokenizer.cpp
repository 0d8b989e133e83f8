// SentencePiece behind smoe::Tokenizer, and UTF-8-safe streaming.
#include "smoe/tokenizer.h"

#include <sentencepiece_processor.h>

#include "smoe/error.h"

namespace smoe {

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

Tokenizer::Tokenizer(std::string_view model_bytes, const std::string& where, int32_t bos_id, int32_t eos_id)
    : impl_(std::make_unique<Impl>()), bos_id_(bos_id), eos_id_(eos_id) {
  const auto status = impl_->processor.LoadFromSerializedProto(model_bytes);
  if (!status.ok()) throw Error(where, "embedded tokenizer is not a valid SentencePiece model: " + status.ToString());
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> pieces;
  const auto status = impl_->processor.Encode(text, &pieces);
  if (!status.ok()) throw Error("tokenizer", "cannot encode text: " + status.ToString());
  std::vector<int32_t> ids;
  ids.reserve(pieces.size() + 1);
  if (add_bos) ids.push_back(bos_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  const std::vector<int> pieces(ids.begin(), ids.end());
  const auto status = impl_->processor.Decode(pieces, &text);
  if (!status.ok()) throw Error("tokenizer", "cannot decode ids: " + status.ToString());
  return text;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const sentencepiece::SentencePieceProcessor& sp = impl_->processor;
  if (id < 0 || id >= sp.GetPieceSize() || sp.IsControl(id)) return {};
  if (sp.IsUnknown(id)) return " \xe2\x81\x87 ";  // " ⁇ ", as SentencePiece decodes <unk>
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

int32_t Tokenizer::vocab_size() const { return impl_->processor.GetPieceSize(); }

namespace {

// Length of the UTF-8 sequence that starts with `lead`; 1 for bytes that cannot start one.
size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;  // continuation or invalid byte: pass it through rather than hold it forever
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  size_t complete = 0;
  while (complete < pending_.size()) {
    const size_t length = sequence_length(static_cast<unsigned char>(pending_[complete]));
    if (complete + length > pending_.size()) break;
    complete += length;
  }
  std::string ready = pending_.substr(0, complete);
  pending_.erase(0, complete);
  return ready;
}

std::string Utf8Stream::flush() { return std::exchange(pending_, {}); }

}  // namespace smoe
