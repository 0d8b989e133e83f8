// Scalar reference for q8: the definition every vector kernel is tested against.
#include "quant/formats/block_q8.h"

#include <algorithm>
#include <cmath>

#include "quant/formats/half.h"
#include "quant/formats/round_to_even.h"

namespace smoe::quant {

void quantize_row_q8_ref(const float* src, BlockQ8* dst, size_t n) {
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    const float* x = src + b * BlockQ8::kElements;
    float absmax = 0.0f;
    for (size_t i = 0; i < BlockQ8::kElements; ++i) absmax = std::max(absmax, std::fabs(x[i]));
    // Quantize against the scale as stored (f16), so dequantization sees the same grid.
    const uint16_t d_bits = f32_to_f16(absmax / 127.0f);
    const float d = f16_to_f32(d_bits);
    const float inverse_d = d > 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = d_bits;
    // |x| / d is at most about 127: round_to_even is nearbyint here, without a library call per
    // weight (the converter's q8 copy quantizes billions of weights with it).
    for (size_t i = 0; i < BlockQ8::kElements; ++i) {
      const float q = round_to_even(x[i] * inverse_d);
      dst[b].qs[i] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
    }
  }
}

void dequantize_row_q8_ref(const BlockQ8* src, float* dst, size_t n) {
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    const float d = f16_to_f32(src[b].d);
    for (size_t i = 0; i < BlockQ8::kElements; ++i) dst[b * BlockQ8::kElements + i] = d * src[b].qs[i];
  }
}

}  // namespace smoe::quant
