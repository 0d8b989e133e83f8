// Safetensors tensors as converter sources.
#include "convert/safetensors_source.h"

#include <cstring>

#include "smoe/error.h"

namespace smoe::convert {

SafetensorsTensorSource::SafetensorsTensorSource(const SafetensorsFile& file, const SourceTensor& tensor,
                                                 std::vector<uint64_t> row_order)
    : file_(file), tensor_(tensor), row_order_(std::move(row_order)), row_elements_(tensor.shape.empty() ? 1 : tensor.shape.back()) {}

void SafetensorsTensorSource::read_rows_f32(uint64_t first, uint64_t rows, float* out) const {
  if (row_order_.empty()) {
    file_.read_rows_f32(tensor_, first, rows, out);
    return;
  }
  for (uint64_t r = 0; r < rows; ++r) file_.read_rows_f32(tensor_, row_order_[first + r], 1, out + r * row_elements_);
}

std::optional<quant::TensorType> SafetensorsTensorSource::stored_type() const {
  if (tensor_.dtype == "F32") return quant::TensorType::f32;
  if (tensor_.dtype == "F16") return quant::TensorType::f16;
  if (tensor_.dtype == "BF16") return quant::TensorType::bf16;
  return std::nullopt;
}

void SafetensorsTensorSource::read_rows_stored(uint64_t first, uint64_t rows, std::byte* out) const {
  const uint64_t row_bytes = row_elements_ * safetensors_dtype_bytes(tensor_.dtype);
  const std::byte* data = file_.mapping().data() + tensor_.offset;
  for (uint64_t r = 0; r < rows; ++r) {
    const uint64_t stored_row = row_order_.empty() ? first + r : row_order_[first + r];
    std::memcpy(out + r * row_bytes, data + stored_row * row_bytes, row_bytes);
  }
}

void SafetensorsTensorSource::release_rows(uint64_t first, uint64_t rows) const {
  // Permuted rows stay within one head's span of the same tensor; release the whole range read.
  if (row_order_.empty()) file_.release_rows(tensor_, first, rows);
}

void check_safetensors_tensor(const SafetensorsFile& file, const SourceTensor& tensor, const std::string& released_name,
                              const format::TensorSpec& spec, const char* config_name) {
  if (tensor.shape != spec.shape) {
    throw Error(file.path(), "tensor '" + released_name + "' has shape " + shape_string(tensor.shape) + " but " +
                                 config_name + " implies " + shape_string(spec.shape));
  }
  if (tensor.dtype != "BF16" && tensor.dtype != "F16" && tensor.dtype != "F32") {
    throw Error(file.path(), "tensor '" + released_name + "' has unsupported dtype " + tensor.dtype +
                                 " (supported: BF16, F16, F32)");
  }
}

}  // namespace smoe::convert
