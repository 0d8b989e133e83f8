// The SentencePiece ModelProto at the wire level. build_sentencepiece_model writes one from a
// vocabulary as GGUF stores it (tokenizer.ggml.tokens / scores / token_type), so GGUF imports
// carry a tokenizer the runtime loads like any tokenizer.model; only the fields that affect
// encoding and decoding are written, with the settings of the Llama/Mistral tokenizers (BPE,
// byte fallback, identity normalization, a dummy prefix space, no whitespace folding).
// read_sentencepiece_pieces reads each piece's type back, which SentencePiece's own API does
// not expose for USER_DEFINED pieces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smoe::convert {

struct SentencePieceVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;  // SentencePiece's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool add_dummy_prefix = true;
};

// SentencePiece's ModelProto.SentencePiece.Type values.
inline constexpr int32_t kPieceNormal = 1, kPieceUnknown = 2, kPieceControl = 3, kPieceUserDefined = 4,
                         kPieceUnused = 5, kPieceByte = 6;

std::string build_sentencepiece_model(const SentencePieceVocab& vocab);

struct SentencePieceEntry {
  std::string piece;
  int32_t type = kPieceNormal;
};

// The pieces of a serialized ModelProto in id order; throws smoe::Error naming `path` when the
// bytes are not a well-formed protocol buffer.
std::vector<SentencePieceEntry> read_sentencepiece_pieces(std::string_view model, const std::string& path);

}  // namespace smoe::convert
