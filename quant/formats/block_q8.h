// q8: symmetric 8-bit blocks of 32 weights with one f16 scale (8.5 bits per weight).
//
// Layout of one block (34 bytes, no padding, little-endian):
//   uint16 d        f16 scale
//   int8   qs[32]   weights; w[i] = d * qs[i], qs in [-127, 127]
// Blocks are unaligned-safe: kernels load them with unaligned loads straight from the mapping.
#pragma once

#include <cstddef>
#include <cstdint>

namespace smoe::quant {

struct BlockQ8 {
  static constexpr size_t kElements = 32;
  uint16_t d;
  int8_t qs[kElements];
};
static_assert(sizeof(BlockQ8) == 34, "BlockQ8 is part of the file format");

// Scalar references. `n` must be a multiple of BlockQ8::kElements.
// src (n,) -> dst (n / 32 blocks)
void quantize_row_q8_ref(const float* src, BlockQ8* dst, size_t n);
// src (n / 32 blocks) -> dst (n,)
void dequantize_row_q8_ref(const BlockQ8* src, float* dst, size_t n);

// Largest absolute error of any weight of a block whose stored scale is `d`: half a step, plus
// the f16 scale's own resolution near zero (blocks with max |w| below ~1e-5 lose precision).
inline float q8_error_bound(float d) { return 0.5f * d * 1.0001f + 127.0f * 0x1p-25f; }

}  // namespace smoe::quant
