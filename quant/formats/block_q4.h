// q4: asymmetric 4-bit blocks of 32 weights with an f16 scale and an f16 minimum
// (5.0 bits per weight).
//
// Layout of one block (20 bytes, no padding, little-endian):
//   uint16 d        f16 scale (>= 0)
//   uint16 m        f16 minimum
//   uint8  qs[16]   qs[j] & 0x0f is weight j, qs[j] >> 4 is weight j + 16
// w[i] = d * q[i] + m with q in [0, 15].
//
// The quantizer searches (d, m) to minimise the block's squared error rather than taking
// them from min/max, but never accepts a choice whose largest error exceeds one min/max step
// ((max - min) / 15): q4_error_bound() states the guarantee the tests check.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/rounding_grid.h"

namespace smoe::quant {

struct BlockQ4 {
  static constexpr size_t kElements = 32;
  uint16_t d;
  uint16_t m;
  uint8_t qs[kElements / 2];
};
static_assert(sizeof(BlockQ4) == 20, "BlockQ4 is part of the file format");

// Scalar references. `n` must be a multiple of BlockQ4::kElements. `importance` (n,), when
// given, weights each weight's squared error in the search (an importance matrix from
// calibration); all weights count equally without it.
void quantize_row_q4_ref(const float* src, BlockQ4* dst, size_t n, const float* importance = nullptr);
void dequantize_row_q4_ref(const BlockQ4* src, float* dst, size_t n);

// The (d, m) search of one block of 32 weights x spanning [lo, hi] (lo < hi), each squared
// error weighted by `weight` (32,): tries 21 grid densities around the min/max one (as
// llama.cpp's make_qkx2_quants does), refits each by least squares, and keeps the lowest
// weighted squared error whose worst error stays within one min/max step. Faster versions
// (quant/x86/) return the same bits.
struct Q4GridFit {
  float d;
  float m;
  float squared_error;  // weighted
  float max_error;      // unweighted
};
Q4GridFit search_q4_grid_ref(const float* x, const float* weight, float lo, float hi);
using Q4GridSearch = Q4GridFit (*)(const float* x, const float* weight, float lo, float hi);

// The f16 (d, m) of one block of 32 weights by `search` (importance (32,) or nullptr for equal
// weights). False for a constant block (or one with NaN): d = 0, m = its value, all q = 0.
bool fit_q4_block(const float* x, const float* importance, Q4GridSearch search, uint16_t* d, uint16_t* m);

// The levels of a block whose scale and minimum are set (grids (32,); levels 0..15), and its
// 4-bit values replaced by x's (32,) nearest levels on them, as the quantizer's last step
// chooses them.
void q4_rounding_grids(const BlockQ4& block, RoundingGrid* grids);
void q4_set_values(const float* x, BlockQ4& block);

// Largest absolute error of any weight of a block whose values span [lo, hi]: one min/max
// step plus the rounding of the f16 scale and minimum (relative, and absolute near zero).
float q4_error_bound(float lo, float hi);

}  // namespace smoe::quant
