// q6k: 6-bit super-blocks of 256 weights (6.5625 bits per weight), bit-compatible with
// llama.cpp's Q6_K. For the tensors a recipe wants nearly lossless at less than q8's size,
// and for hot experts under `--expert-bits auto`.
//
// Layout of one block (210 bytes, little-endian, no padding):
//   uint8  ql[128]     low 4 bits of each 6-bit value
//   uint8  qh[64]      high 2 bits
//   int8   scales[16]  signed scale of each 16-weight sub-block
//   uint16 d           f16 super-block scale
// Weight p (0..255): chunk c = p / 128, k = (p % 128) / 32, l = p % 32;
//   low  = ql[64c + 32(k & 1) + l] >> (4 (k >> 1)) & 15
//   high = qh[32c + l] >> 2k & 3
//   w = d * scales[p / 16] * ((low | high << 4) - 32)
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/rounding_grid.h"
#include "quant/formats/scale_search.h"

namespace smoe::quant {

struct BlockQ6K {
  static constexpr size_t kElements = 256;
  uint8_t ql[kElements / 2];
  uint8_t qh[kElements / 4];
  int8_t scales[kElements / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6K) == 210, "BlockQ6K is part of the file format");

// Scalar references; `n` a multiple of 256; `importance` (n,) as for q4k.
void quantize_row_q6k_ref(const float* src, BlockQ6K* dst, size_t n, const float* importance = nullptr);
void dequantize_row_q6k_ref(const BlockQ6K* src, float* dst, size_t n);
// quantize_row_q6k_ref with each sub-block's scale found by `search` (one of the same bits:
// the reference search or a vectorized one).
void quantize_row_q6k_searched(const float* src, BlockQ6K* dst, size_t n, const float* importance,
                               SymmetricScaleSearch search);

// The levels of a block whose scales are set (grids (256,); levels -32..31), and its 6-bit
// values replaced by x's (256,) nearest levels on them, as the quantizer's last step chooses them.
void q6k_rounding_grids(const BlockQ6K& block, RoundingGrid* grids);
void q6k_set_values(const float* x, BlockQ6K& block);

// The 6-bit value (0..63, before subtracting 32) of weight p of a block.
inline int q6k_value(const BlockQ6K& block, size_t p) {
  const size_t c = p / 128, k = (p % 128) / 32, l = p % 32;
  const int low = (block.ql[64 * c + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15;
  const int high = (block.qh[32 * c + l] >> (2 * k)) & 3;
  return low | (high << 4);
}

}  // namespace smoe::quant
