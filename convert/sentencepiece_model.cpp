// Protocol-buffer wire encoding of the few ModelProto fields a BPE tokenizer needs
// (sentencepiece_model.proto: ModelProto.pieces = 1, trainer_spec = 2, normalizer_spec = 3;
// SentencePiece.piece = 1, score = 2, type = 3), and a bounds-checked reader of the pieces.
#include "convert/sentencepiece_model.h"

#include <cstring>
#include <optional>

#include "smoe/error.h"

namespace smoe::convert {
namespace {

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, uint32_t field, uint32_t wire_type) { put_varint(out, (uint64_t{field} << 3) | wire_type); }

void put_int(std::string& out, uint32_t field, int64_t value) {  // int32/bool/enum: negative as 10-byte varint
  put_key(out, field, 0);
  put_varint(out, static_cast<uint64_t>(value));
}

void put_bytes(std::string& out, uint32_t field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_float(std::string& out, uint32_t field, float value) {
  put_key(out, field, 5);
  char bytes[4];
  std::memcpy(bytes, &value, 4);
  out.append(bytes, 4);
}

// Reads protocol-buffer fields from untrusted bytes: every length is checked against what is
// left before it is used.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return at_ == bytes_.size(); }
  std::optional<uint64_t> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && at_ < bytes_.size(); shift += 7) {
      const auto byte = static_cast<uint8_t>(bytes_[at_++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return std::nullopt;
  }
  // The payload of a field of `wire_type`: the bytes of a length-delimited one, empty otherwise;
  // nullopt when it runs past the end or the wire type is unknown.
  std::optional<std::string_view> skip_or_take(uint64_t wire_type) {
    uint64_t size = 0;
    switch (wire_type) {
      case 0: return varint() ? std::optional<std::string_view>(std::string_view()) : std::nullopt;
      case 1: size = 8; break;
      case 5: size = 4; break;
      case 2: {
        const std::optional<uint64_t> length = varint();
        if (!length) return std::nullopt;
        size = *length;
        break;
      }
      default: return std::nullopt;
    }
    if (size > bytes_.size() - at_) return std::nullopt;
    const std::string_view payload = bytes_.substr(at_, size);
    at_ += size;
    return wire_type == 2 ? payload : std::string_view();
  }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

}  // namespace

std::string build_sentencepiece_model(const SentencePieceVocab& vocab) {
  std::string model;
  bool has_bytes = false;
  for (size_t i = 0; i < vocab.pieces.size(); ++i) {
    std::string piece;
    put_bytes(piece, 1, vocab.pieces[i]);
    put_float(piece, 2, i < vocab.scores.size() ? vocab.scores[i] : 0.0f);
    const int32_t type = i < vocab.types.size() ? vocab.types[i] : 1;
    if (type != 1) put_int(piece, 3, type);
    has_bytes |= type == 6;
    put_bytes(model, 1, piece);
  }
  std::string trainer;
  put_int(trainer, 3, 2);  // model_type: BPE
  put_int(trainer, 4, static_cast<int64_t>(vocab.pieces.size()));
  put_int(trainer, 25, 1);  // split_digits
  put_int(trainer, 26, 1);  // allow_whitespace_only_pieces (affects how text splits into words)
  put_int(trainer, 35, has_bytes ? 1 : 0);  // byte_fallback
  put_int(trainer, 40, vocab.unk_id);
  put_int(trainer, 41, vocab.bos_id);
  put_int(trainer, 42, vocab.eos_id);
  put_int(trainer, 43, vocab.pad_id);
  put_bytes(model, 2, trainer);
  std::string normalizer;
  put_bytes(normalizer, 1, "identity");
  put_int(normalizer, 3, vocab.add_dummy_prefix ? 1 : 0);
  put_int(normalizer, 4, 0);  // remove_extra_whitespaces
  put_int(normalizer, 5, 1);  // escape_whitespaces
  put_bytes(model, 3, normalizer);
  return model;
}

std::vector<SentencePieceEntry> read_sentencepiece_pieces(std::string_view model, const std::string& path) {
  const auto malformed = [&] { return Error(path, "not a well-formed SentencePiece model (protocol buffer)"); };
  std::vector<SentencePieceEntry> pieces;
  WireReader reader(model);
  while (!reader.done()) {
    const std::optional<uint64_t> key = reader.varint();
    if (!key) throw malformed();
    const std::optional<std::string_view> payload = reader.skip_or_take(*key & 7);
    if (!payload) throw malformed();
    if (*key != ((1u << 3) | 2)) continue;  // ModelProto.pieces, length-delimited
    SentencePieceEntry entry;
    WireReader fields(*payload);
    while (!fields.done()) {
      const std::optional<uint64_t> field_key = fields.varint();
      if (!field_key) throw malformed();
      if (*field_key == ((3u << 3) | 0)) {  // type, a varint
        const std::optional<uint64_t> type = fields.varint();
        if (!type) throw malformed();
        entry.type = *type >= kPieceNormal && *type <= kPieceByte ? static_cast<int32_t>(*type) : 0;
        continue;
      }
      const std::optional<std::string_view> value = fields.skip_or_take(*field_key & 7);
      if (!value) throw malformed();
      if (*field_key == ((1u << 3) | 2)) entry.piece = std::string(*value);
    }
    pieces.push_back(std::move(entry));
  }
  return pieces;
}

}  // namespace smoe::convert
