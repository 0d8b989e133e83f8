// Format detection and the helpers every checkpoint reader shares.
#include "convert/checkpoint.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>

#include "convert/gguf_checkpoint.h"
#include "convert/hf_checkpoint.h"
#include "convert/mistral_checkpoint.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace fs = std::filesystem;

void TensorSource::read_rows_stored(uint64_t, uint64_t, std::byte*) const {
  throw Error("converter", "internal error: read_rows_stored on a source without a stored type");
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::vector<uint64_t> interleaved_rope_rows(uint64_t heads, uint64_t head_dim) {
  std::vector<uint64_t> rows(heads * head_dim);
  const uint64_t half = head_dim / 2;
  for (uint64_t h = 0; h < heads; ++h) {
    for (uint64_t j = 0; j < 2; ++j) {
      for (uint64_t i = 0; i < half; ++i) rows[h * head_dim + j * half + i] = h * head_dim + 2 * i + j;
    }
  }
  return rows;
}

void check_tokenizer_model(const std::string& path, const std::string& bytes, uint32_t vocab_size) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.LoadFromSerializedProto(bytes);
  if (!status.ok()) throw Error(path, "not a valid SentencePiece model: " + status.ToString());
  const int pieces = processor.GetPieceSize();
  if (pieces <= 0 || static_cast<uint64_t>(pieces) > vocab_size) {
    throw Error(path, "tokenizer has " + std::to_string(pieces) + " pieces, more than vocab_size " +
                          std::to_string(vocab_size));
  }
}

namespace {

bool starts_with_gguf_magic(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  char magic[4] = {};
  return stream.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

}  // namespace

std::unique_ptr<Checkpoint> open_checkpoint(const std::string& path, const std::string& from) {
  std::string format = from;
  if (format.empty()) {
    std::error_code error;
    if (fs::is_regular_file(path, error) && starts_with_gguf_magic(path)) {
      format = "gguf";
    } else if (fs::is_directory(path, error) && fs::exists(fs::path(path) / "params.json", error)) {
      format = "mistral";
    } else {
      format = "hf";
    }
  }
  if (format == "gguf") return std::make_unique<GgufCheckpoint>(GgufCheckpoint::open(path));
  if (format == "mistral") return std::make_unique<MistralCheckpoint>(MistralCheckpoint::open(path));
  if (format == "hf") return std::make_unique<HfCheckpoint>(HfCheckpoint::open(path));
  throw Error("--from", "unknown input format '" + from + "' (choose hf, gguf or mistral)");
}

}  // namespace smoe::convert
