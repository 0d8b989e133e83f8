// Reader for one safetensors file (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then data.
// Every size is checked before use: header length against the file and a cap, each tensor's
// byte range against the data section, its length against dtype x shape, and no overlaps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/mapped_file.h"

namespace smoe::convert {

inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;  // the format's own limit

struct SourceTensor {
  std::string name;
  std::string dtype;            // as written: "BF16", "F16", "F32", ...
  std::vector<uint64_t> shape;  // outermost first
  uint64_t offset = 0;          // absolute offset in the file
  uint64_t bytes = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates the header of `path`; throws smoe::Error naming the file.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const MappedFile& mapping() const { return file_; }
  const std::vector<SourceTensor>& tensors() const { return tensors_; }
  const SourceTensor* find(std::string_view name) const;

  // Converts rows [first_row, first_row + rows) of a 1-D or 2-D tensor to f32. A 1-D tensor
  // is one row. Supports F32, F16 and BF16; any other dtype is an error naming the tensor.
  void read_rows_f32(const SourceTensor& tensor, uint64_t first_row, uint64_t rows, float* out) const;

  // Drops the pages of those rows from the resident set once they are converted, so peak
  // memory is one chunk of rows rather than one tensor (Mixtral's embedding is 262 MB).
  void release_rows(const SourceTensor& tensor, uint64_t first_row, uint64_t rows) const;

 private:
  MappedFile file_;
  std::vector<SourceTensor> tensors_;
  std::unordered_map<std::string, size_t> index_by_name_;
};

// Bytes per element of a safetensors dtype name; 0 for a name this reader does not know.
uint32_t safetensors_dtype_bytes(std::string_view dtype);

}  // namespace smoe::convert
