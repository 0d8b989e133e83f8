// Row conversions by tensor type: the scalar references of the type table's rows.
#include "quant/formats/convert_row.h"

#include <stdexcept>

namespace smoe::quant {

void quantize_row(TensorType type, const float* src, void* dst, size_t n, const float* importance) {
  const TypeTraits& traits = type_traits(type);
  // u8 is not a weight type; interleaved types have no rows of their own: rows are q4k / q8
  // (row_type), interleaved by the writer.
  if (traits.quantize_row == nullptr) throw std::invalid_argument("quantize_row: not a weight type");
  traits.quantize_row(src, dst, n, importance);
}

void dequantize_row(TensorType type, const void* src, float* dst, size_t n) {
  const TypeTraits& traits = type_traits(type);
  if (traits.dequantize_row == nullptr) throw std::invalid_argument("dequantize_row: not a weight type");
  traits.dequantize_row(src, dst, n);
}

}  // namespace smoe::quant
