// Scalar reference dot products for the unquantized types, and the per-type table.
#include "quant/row_dot.h"

#include <cstdint>
#include <stdexcept>

#include "quant/block_q4.h"
#include "quant/block_q3k.h"
#include "quant/block_q4k.h"
#include "quant/block_q6k.h"
#include "quant/block_q8.h"
#include "quant/half.h"

namespace smoe::quant {
namespace {

float dot_f32(const void* row, const float* x, size_t n) {
  const auto* w = static_cast<const float*>(row);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

float dot_f16(const void* row, const float* x, size_t n) {
  const auto* w = static_cast<const uint16_t*>(row);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += f16_to_f32(w[i]) * x[i];
  return sum;
}

float dot_bf16(const void* row, const float* x, size_t n) {
  const auto* w = static_cast<const uint16_t*>(row);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += bf16_to_f32(w[i]) * x[i];
  return sum;
}

float dot_q8(const void* row, const float* x, size_t n) { return dot_q8_f32_ref(static_cast<const BlockQ8*>(row), x, n); }
float dot_q4(const void* row, const float* x, size_t n) { return dot_q4_f32_ref(static_cast<const BlockQ4*>(row), x, n); }
float dot_q4k(const void* row, const float* x, size_t n) {
  return dot_q4k_f32_ref(static_cast<const BlockQ4K*>(row), x, n);
}
float dot_q6k(const void* row, const float* x, size_t n) {
  return dot_q6k_f32_ref(static_cast<const BlockQ6K*>(row), x, n);
}
float dot_q3k(const void* row, const float* x, size_t n) {
  return dot_q3k_f32_ref(static_cast<const BlockQ3K*>(row), x, n);
}

}  // namespace

RowDotFn row_dot_ref(TensorType type) {
  switch (type) {
    case TensorType::f32: return dot_f32;
    case TensorType::f16: return dot_f16;
    case TensorType::bf16: return dot_bf16;
    case TensorType::q8: return dot_q8;
    case TensorType::q4: return dot_q4;
    case TensorType::q4k: return dot_q4k;
    case TensorType::q6k: return dot_q6k;
    case TensorType::q3k: return dot_q3k;
    case TensorType::u8: break;
  }
  throw std::invalid_argument("row_dot_ref: not a weight type");
}

}  // namespace smoe::quant
