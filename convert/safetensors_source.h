// TensorSource over one tensor of a safetensors file (Hugging Face and Mistral releases),
// optionally reading its rows in another order (the RoPE row fix of checkpoint.h).
#pragma once

#include <vector>

#include "convert/checkpoint.h"
#include "convert/safetensors_file.h"

namespace smoe::convert {

class SafetensorsTensorSource : public TensorSource {
 public:
  // `row_order`, when not empty, gives for each output row the stored row to read.
  SafetensorsTensorSource(const SafetensorsFile& file, const SourceTensor& tensor, std::vector<uint64_t> row_order = {});
  void read_rows_f32(uint64_t first, uint64_t rows, float* out) const override;
  std::optional<quant::TensorType> stored_type() const override;
  void read_rows_stored(uint64_t first, uint64_t rows, std::byte* out) const override;
  void release_rows(uint64_t first, uint64_t rows) const override;
  std::string source_type() const override { return tensor_.dtype; }

 private:
  const SafetensorsFile& file_;
  const SourceTensor& tensor_;
  std::vector<uint64_t> row_order_;
  uint64_t row_elements_;
};

// Checks a safetensors tensor's shape and dtype against a schema entry; throws naming the file.
void check_safetensors_tensor(const SafetensorsFile& file, const SourceTensor& tensor, const std::string& released_name,
                              const format::TensorSpec& spec, const char* config_name);

}  // namespace smoe::convert
