// q4k: 4-bit super-blocks of 256 weights (4.5 bits per weight), bit-compatible with
// llama.cpp's Q4_K so GGUF files can be imported without requantizing.
//
// Layout of one block (144 bytes, little-endian):
//   uint16 d           f16 super-block scale of the sub-block scales
//   uint16 dmin        f16 super-block scale of the sub-block minimums
//   uint8  scales[12]  8 x (6-bit scale sc_j, 6-bit minimum m_j), packed as below
//   uint8  qs[128]     4-bit values: for each 64-weight chunk c (0..3), qs[32c + l] & 15 is
//                      weight 64c + l of sub-block 2c, qs[32c + l] >> 4 is weight 64c + 32 + l
// w = d * sc_j * q - dmin * m_j for a weight of sub-block j (32 weights), q in [0, 15].
// Packing of (sc_j, m_j): for j < 4: sc = scales[j] & 63, m = scales[j + 4] & 63;
// for j >= 4: sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4),
//             m  = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/block_q4.h"
#include "quant/formats/rounding_grid.h"

namespace smoe::quant {

struct BlockQ4K {
  static constexpr size_t kElements = 256;
  static constexpr size_t kSubBlocks = 8;
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kElements / 2];
};
static_assert(sizeof(BlockQ4K) == 144, "BlockQ4K is part of the file format");

// Scalar references. `n` must be a multiple of 256.
// `importance` (n,) as for q4: weights each weight's squared error in the sub-block search.
void quantize_row_q4k_ref(const float* src, BlockQ4K* dst, size_t n, const float* importance = nullptr);
void dequantize_row_q4k_ref(const BlockQ4K* src, float* dst, size_t n);
// quantize_row_q4k_ref with each sub-block's grid found by `search` (one of the same bits:
// the reference search or a vectorized one).
void quantize_row_q4k_searched(const float* src, BlockQ4K* dst, size_t n, const float* importance,
                               Q4GridSearch search);

// The levels of a block whose scales are set (grids (256,); levels 0..15), and its 4-bit values
// replaced by x's (256,) nearest levels on them, as the quantizer's last step chooses them.
void q4k_rounding_grids(const BlockQ4K& block, RoundingGrid* grids);
void q4k_set_values(const float* x, BlockQ4K& block);

// Largest absolute error of a weight in a sub-block spanning [lo, hi], given the block's
// stored super-scales d and dmin: the sub-block search's one-step guarantee plus the rounding
// of the 6-bit scale and minimum and of the f16 super-scales.
float q4k_error_bound(float lo, float hi, float d, float dmin);

// The 6-bit (scale, minimum) pair of sub-block j.
void q4k_scale_min(const uint8_t* scales, size_t j, uint8_t* scale, uint8_t* min);

// All eight pairs at once with 32-bit word operations (branch-free, for the kernels), as four
// words: words[0..1] hold the scales' bytes, words[2..3] the minimums'. Kernels that want them in
// a vector build it from these words (stored and reloaded as one vector, they stall store
// forwarding).
struct Q4kScaleWords {
  uint32_t words[4];
};
inline Q4kScaleWords q4k_unpack_scale_words(const uint8_t* packed) {
  uint32_t w0, w1, w2;
  __builtin_memcpy(&w0, packed, 4);
  __builtin_memcpy(&w1, packed + 4, 4);
  __builtin_memcpy(&w2, packed + 8, 4);
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  return {{w0 & kLow6, (w2 & kLow4) | (((w0 >> 6) & kLow2) << 4), w1 & kLow6,
           ((w2 >> 4) & kLow4) | (((w1 >> 6) & kLow2) << 4)}};
}

// The same bytes in memory: out[0..7] are the scales, out[8..15] the minimums. Equals
// q4k_scale_min for every j.
inline void q4k_unpack_scales(const uint8_t* packed, uint8_t* out) {
  const Q4kScaleWords unpacked = q4k_unpack_scale_words(packed);
  __builtin_memcpy(out, unpacked.words, 16);
}

}  // namespace smoe::quant
