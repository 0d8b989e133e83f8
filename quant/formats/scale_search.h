// Least-squares scale search for symmetric integer grids (q6k, q3k sub-blocks).
//
// For a group of weights x and a grid of integers [lowest, highest] (lowest = -highest - 1,
// so the grid has one extra negative level), finds the scale s minimising
// sum_i weight_i * (x_i - s * L_i)^2 with L_i = clamp(round(x_i / s)). Like llama.cpp's
// make_qx_quants it tries mapping the largest-magnitude weight onto either end of the grid,
// stretched by up to +-0.9 levels, and keeps the least-squares optimal scale of the best
// rounding. The scale can be negative (then the extra level serves the positive side).
#pragma once

#include <cstddef>

namespace smoe::quant {

// `weights` (n,) or nullptr for all ones. Returns 0 for an all-zero group. Faster versions
// (quant/x86/) return the same bits.
float search_symmetric_scale(const float* x, const float* weights, size_t n, int lowest, int highest);
using SymmetricScaleSearch = float (*)(const float* x, const float* weights, size_t n, int lowest, int highest);

// The scales of the 16 sub-blocks of 16 weights of one super-block of 256 (q6k, q3k), each by
// `search` on [lowest, highest]; returns the signed scale of largest magnitude.
float search_sub_block_scales(const float* x, const float* weights, int lowest, int highest, float* scales,
                              SymmetricScaleSearch search = search_symmetric_scale);

// Per-weight error weights of one super-block of 256: importance[i] * sqrt(sigma^2 + x_i^2)
// with an importance matrix (as llama.cpp's K-quants), all ones without one.
void super_block_error_weights(const float* x, const float* importance, size_t n, float* out);

}  // namespace smoe::quant
