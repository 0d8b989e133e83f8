// Protocol-buffer wire encoding of the few ModelProto fields a BPE tokenizer needs
// (sentencepiece_model.proto: ModelProto.pieces = 1, trainer_spec = 2, normalizer_spec = 3).
#include "convert/sentencepiece_model.h"

#include <cstring>

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

}  // namespace smoe::convert
