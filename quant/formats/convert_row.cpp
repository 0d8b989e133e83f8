// Dispatch of row conversions by tensor type (scalar references).
#include "quant/formats/convert_row.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "quant/formats/block_q4.h"
#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/half.h"

namespace smoe::quant {

void quantize_row(TensorType type, const float* src, void* dst, size_t n, const float* importance) {
  switch (type) {
    case TensorType::f32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case TensorType::f16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) out[i] = f32_to_f16(src[i]);
      return;
    }
    case TensorType::bf16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) out[i] = f32_to_bf16(src[i]);
      return;
    }
    case TensorType::q8:
      quantize_row_q8_ref(src, static_cast<BlockQ8*>(dst), n);
      return;
    case TensorType::q4:
      quantize_row_q4_ref(src, static_cast<BlockQ4*>(dst), n, importance);
      return;
    case TensorType::q4k:
      quantize_row_q4k_ref(src, static_cast<BlockQ4K*>(dst), n, importance);
      return;
    case TensorType::q6k:
      quantize_row_q6k_ref(src, static_cast<BlockQ6K*>(dst), n, importance);
      return;
    case TensorType::q3k:
      quantize_row_q3k_ref(src, static_cast<BlockQ3K*>(dst), n, importance);
      return;
    case TensorType::u8:
    case TensorType::q4k_x8:  // no rows of their own: rows are q4k / q8 (row_type), interleaved by the writer
    case TensorType::q8_x8:
      break;
  }
  throw std::invalid_argument("quantize_row: not a weight type");
}

void dequantize_row(TensorType type, const void* src, float* dst, size_t n) {
  switch (type) {
    case TensorType::f32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case TensorType::f16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(in[i]);
      return;
    }
    case TensorType::bf16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(in[i]);
      return;
    }
    case TensorType::q8:
      dequantize_row_q8_ref(static_cast<const BlockQ8*>(src), dst, n);
      return;
    case TensorType::q4:
      dequantize_row_q4_ref(static_cast<const BlockQ4*>(src), dst, n);
      return;
    case TensorType::q4k:
      dequantize_row_q4k_ref(static_cast<const BlockQ4K*>(src), dst, n);
      return;
    case TensorType::q6k:
      dequantize_row_q6k_ref(static_cast<const BlockQ6K*>(src), dst, n);
      return;
    case TensorType::q3k:
      dequantize_row_q3k_ref(static_cast<const BlockQ3K*>(src), dst, n);
      return;
    case TensorType::u8:
    case TensorType::q4k_x8:  // de-interleaved rows are q4k / q8 (row_type)
    case TensorType::q8_x8:
      break;
  }
  throw std::invalid_argument("dequantize_row: not a weight type");
}

}  // namespace smoe::quant
