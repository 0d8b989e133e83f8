// A source checkpoint in any supported release format, as the converter sees it: the model's
// hyperparameters, its SentencePiece tokenizer, its chat template, and each schema tensor in
// the schema's shape and (Hugging Face) row order, whatever the file stores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/tensor_schema.h"
#include "quant/formats/tensor_type.h"
#include "smoe/hyperparameters.h"
#include "smoe/tokenizer.h"

namespace smoe::convert {

struct SourceFile {
  std::string path;
  uint64_t bytes = 0;
};

// One tensor of a checkpoint. Rows run along the schema shape's last dimension.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // Rows [first, first + rows) as f32. Called from several threads at once (the converter
  // reads each row on the thread that quantizes it).
  virtual void read_rows_f32(uint64_t first, uint64_t rows, float* out) const = 0;
  // The smoe type whose blocks hold the source's values exactly (bit for bit, or by an exact
  // re-encoding such as GGUF Q4_0 -> q4); std::nullopt when smoe has no such type.
  virtual std::optional<quant::TensorType> stored_type() const { return std::nullopt; }
  // Rows in stored_type()'s blocks; only called when stored_type() has a value.
  virtual void read_rows_stored(uint64_t first, uint64_t rows, std::byte* out) const;
  // Drops the pages of rows already converted, so resident memory stays near two chunks.
  // Called on the converter's writing thread while other threads read later rows (of this
  // tensor or the next): it may only drop what a later read can fault back in unchanged
  // (page-cache pages of a file mapping), never state the reads use.
  virtual void release_rows(uint64_t /*first*/, uint64_t /*rows*/) const {}
  // The source's element type as the format names it ("BF16", "Q5_K"), for messages.
  virtual std::string source_type() const = 0;
};

// What every reader produces is held here; a reader fills it while opening its release.
class Checkpoint {
 public:
  virtual ~Checkpoint() = default;
  virtual std::string_view format() const = 0;  // "huggingface", "gguf" or "mistral"
  const Hyperparameters& hyperparameters() const { return hyperparameters_; }
  const std::string& tokenizer_model() const { return tokenizer_model_; }  // serialized SentencePiece ModelProto
  const std::string& chat_template() const { return chat_template_; }      // empty when the release has none
  // Added / special tokens, bos / eos and the end ids of every file of the release that lists them.
  const TokenizerConfig& tokenizer_config() const { return tokenizer_config_; }
  // Special-token strings for the chat template (bos_token, eos_token, unk_token, pad_token).
  const std::map<std::string, std::string>& template_variables() const { return template_variables_; }
  const std::vector<SourceFile>& source_files() const { return source_files_; }  // every file read, for provenance
  // The source of one schema tensor, its shape and type checked; throws smoe::Error naming the
  // file and the tensor.
  virtual std::unique_ptr<TensorSource> tensor_source(const format::TensorSpec& spec) const = 0;

 protected:
  Hyperparameters hyperparameters_;
  std::string tokenizer_model_;
  std::string chat_template_;
  TokenizerConfig tokenizer_config_;
  std::map<std::string, std::string> template_variables_;
  std::vector<SourceFile> source_files_;
};

// Opens `path` as the format `from` names ("hf", "gguf", "mistral"), or detects it when `from`
// is empty: a file starting with "GGUF" is GGUF; a directory with params.json is Mistral's
// native layout; anything else is a Hugging Face release. Throws smoe::Error.
std::unique_ptr<Checkpoint> open_checkpoint(const std::string& path, const std::string& from = "");

// Row order fix for Q and K projections stored the way Meta's and Mistral's reference code
// applies RoPE (pairs interleaved within each head) rather than Hugging Face's (split halves):
// Hugging Face row h * head_dim + j * head_dim / 2 + i is stored row h * head_dim + 2 i + j.
// Returns, for each Hugging Face row, the stored row to read.
std::vector<uint64_t> interleaved_rope_rows(uint64_t heads, uint64_t head_dim);

// "[a, b, c]"
std::string shape_string(const std::vector<uint64_t>& shape);

// Parses and validates a serialized SentencePiece model; throws smoe::Error naming `path`.
void check_tokenizer_model(const std::string& path, const std::string& bytes, uint32_t vocab_size);

}  // namespace smoe::convert
