// Scalar reference for q4, including the error-minimising (scale, minimum) search.
#include "quant/formats/block_q4.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/formats/half.h"
#include "quant/formats/q4_grid_search_steps.h"
#include "quant/formats/round_to_even.h"

namespace smoe::quant {
namespace {

constexpr int kLevels = 15;  // q in [0, 15]
constexpr size_t kN = BlockQ4::kElements;

// Grid index of x on (inverse_d, m), rounded and clamped to [0, 15].
inline float grid_index(float x, float m, float inverse_d) {
  return std::clamp(round_to_even(std::clamp((x - m) * inverse_d, -1.0f, 16.0f)), 0.0f, float(kLevels));
}

constexpr float kUniform[kN] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

// Importance-weighted squared error (and unweighted worst error) of representing x on the
// grid (d, m). Per-lane partial sums keep the loop vectorisable without reassociation flags.
Q4GridFit evaluate_grid(const float* x, const float* weight, float d, float m) {
  const float inverse_d = d > 0.0f ? 1.0f / d : 0.0f;
  float squared[8] = {}, worst[8] = {};
  for (size_t i = 0; i < kN; ++i) {
    const float error = std::fabs(d * grid_index(x[i], m, inverse_d) + m - x[i]);
    squared[i % 8] += weight[i] * error * error;
    worst[i % 8] = std::max(worst[i % 8], error);
  }
  Q4GridFit fit{d, m, 0.0f, 0.0f};
  for (int lane = 0; lane < 8; ++lane) {
    fit.squared_error += squared[lane];
    fit.max_error = std::max(fit.max_error, worst[lane]);
  }
  return fit;
}

// Quantizes x with the grid (1 / inverse_d, lo), then solves the weighted least-squares
// problem for the (d, m) that best fit that assignment of q.
bool least_squares_fit(const float* x, const float* weight, float lo, float inverse_d, double weight_sum,
                       double weighted_x_sum, float* d, float* m) {
  float sum_q[8] = {}, sum_qq[8] = {}, sum_qx[8] = {};
  for (size_t i = 0; i < kN; ++i) {
    const float q = grid_index(x[i], lo, inverse_d);
    sum_q[i % 8] += weight[i] * q;
    sum_qq[i % 8] += weight[i] * q * q;
    sum_qx[i % 8] += weight[i] * q * x[i];
  }
  double q_total = 0, qq_total = 0, qx_total = 0;
  for (int lane = 0; lane < 8; ++lane) {
    q_total += sum_q[lane];
    qq_total += sum_qq[lane];
    qx_total += sum_qx[lane];
  }
  return solve_q4_least_squares(weight_sum, weighted_x_sum, q_total, qq_total, qx_total, d, m);
}

}  // namespace

Q4GridFit search_q4_grid_ref(const float* x, const float* weight, float lo, float hi) {
  return search_q4_grid_steps(
      x, weight, lo, hi,
      [&](float inverse_d, double weight_sum, double weighted_x_sum, float* d, float* m) {
        return least_squares_fit(x, weight, lo, inverse_d, weight_sum, weighted_x_sum, d, m);
      },
      [&](float d, float m) { return evaluate_grid(x, weight, d, m); });
}

bool fit_q4_block(const float* x, const float* importance, Q4GridSearch search, uint16_t* d, uint16_t* m) {
  const auto [lo_it, hi_it] = std::minmax_element(x, x + kN);
  const float lo = *lo_it, hi = *hi_it;
  if (!(hi > lo)) {  // constant block (or NaN): all q = 0, w = m
    *d = f32_to_f16(0.0f);
    *m = f32_to_f16(lo);
    return false;
  }
  const Q4GridFit fit = search(x, importance ? importance : kUniform, lo, hi);
  *d = f32_to_f16(fit.d);
  *m = f32_to_f16(fit.m);
  return true;
}

float q4_error_bound(float lo, float hi) {
  const float magnitude = std::max(std::fabs(lo), std::fabs(hi));
  return (hi - lo) / kLevels * 1.0001f + magnitude * 0x1p-9f + 16.0f * 0x1p-25f;
}

void quantize_row_q4_ref(const float* src, BlockQ4* dst, size_t n, const float* importance) {
  for (size_t b = 0; b < n / kN; ++b) {
    const float* x = src + b * kN;
    BlockQ4& block = dst[b];
    std::memset(block.qs, 0, sizeof(block.qs));
    if (!fit_q4_block(x, importance ? importance + b * kN : nullptr, search_q4_grid_ref, &block.d, &block.m)) {
      continue;  // constant block (or NaN): all q = 0, w = m
    }
    q4_set_values(x, block);
  }
}

void q4_rounding_grids(const BlockQ4& block, RoundingGrid* grids) {
  const float d = f16_to_f32(block.d), m = f16_to_f32(block.m);
  for (size_t i = 0; i < kN; ++i) grids[i] = {d, d > 0.0f ? 1.0f / d : 0.0f, -m};
}

void q4_set_values(const float* x, BlockQ4& block) {
  // Quantize against the stored (f16) scale and minimum so dequantization sees this grid.
  std::memset(block.qs, 0, sizeof(block.qs));
  const float d = f16_to_f32(block.d), m = f16_to_f32(block.m);
  const float inverse_d = d > 0.0f ? 1.0f / d : 0.0f;
  for (size_t i = 0; i < kN; ++i) {
    const float q = grid_index(x[i], m, inverse_d);
    block.qs[i % (kN / 2)] |= static_cast<uint8_t>(static_cast<uint8_t>(q) << (i < kN / 2 ? 0 : 4));
  }
}

void dequantize_row_q4_ref(const BlockQ4* src, float* dst, size_t n) {
  for (size_t b = 0; b < n / kN; ++b) {
    const float d = f16_to_f32(src[b].d), m = f16_to_f32(src[b].m);
    for (size_t j = 0; j < kN / 2; ++j) {
      dst[b * kN + j] = d * (src[b].qs[j] & 0x0f) + m;
      dst[b * kN + j + kN / 2] = d * (src[b].qs[j] >> 4) + m;
    }
  }
}

}  // namespace smoe::quant
