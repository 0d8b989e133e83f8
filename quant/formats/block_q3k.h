// q3k: 3-bit super-blocks of 256 weights (3.4375 bits per weight), bit-compatible with
// llama.cpp's Q3_K. Used for rarely routed experts under `--expert-bits auto`, which pays
// for more bits on the frequently routed ones at the same total size.
//
// Layout of one block (110 bytes, little-endian, no padding):
//   uint8  hmask[32]   high bit of each 3-bit value
//   uint8  qs[64]      low 2 bits
//   uint8  scales[12]  16 six-bit sub-block scales, stored with +32 (packed as below)
//   uint16 d           f16 super-block scale
// Weight p (0..255): c = p / 128, j = (p % 128) / 32, l = p % 32;
//   low = qs[32c + l] >> 2j & 3, high = hmask[l] >> (p / 32) & 1
//   w = d * (scale_{p / 16} - 32) * ((low | high << 2) - 4)
// Scale s (0..15): low 4 bits = s < 8 ? scales[s] & 15 : scales[s - 8] >> 4,
//                  high 2 bits = scales[8 + s % 4] >> (2 (s / 4)) & 3.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/rounding_grid.h"
#include "quant/formats/scale_search.h"

namespace smoe::quant {

struct BlockQ3K {
  static constexpr size_t kElements = 256;
  uint8_t hmask[kElements / 8];
  uint8_t qs[kElements / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3K) == 110, "BlockQ3K is part of the file format");

// Scalar references; `n` a multiple of 256; `importance` (n,) as for q4k.
void quantize_row_q3k_ref(const float* src, BlockQ3K* dst, size_t n, const float* importance = nullptr);
void dequantize_row_q3k_ref(const BlockQ3K* src, float* dst, size_t n);
// quantize_row_q3k_ref with each sub-block's scale found by `search` (one of the same bits:
// the reference search or a vectorized one).
void quantize_row_q3k_searched(const float* src, BlockQ3K* dst, size_t n, const float* importance,
                               SymmetricScaleSearch search);

// The levels of a block whose scales are set (grids (256,); levels -4..3), and its 3-bit values
// replaced by x's (256,) nearest levels on them, as the quantizer's last step chooses them.
void q3k_rounding_grids(const BlockQ3K& block, RoundingGrid* grids);
void q3k_set_values(const float* x, BlockQ3K& block);

// The 16 signed sub-block scales (-32..31) of a block.
void q3k_unpack_scales(const uint8_t* packed, int8_t* out);

// The 3-bit value (0..7, before subtracting 4) of weight p of a block.
inline int q3k_value(const BlockQ3K& block, size_t p) {
  const size_t c = p / 128, j = (p % 128) / 32, l = p % 32;
  const int low = (block.qs[32 * c + l] >> (2 * j)) & 3;
  const int high = (block.hmask[l] >> (p / 32)) & 1;
  return low | (high << 2);
}

}  // namespace smoe::quant
