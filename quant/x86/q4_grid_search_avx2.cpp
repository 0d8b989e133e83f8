// AVX2 q4 grid search (compiled with -mavx2 -mfma -mf16c -ffp-contract=off; selected only when
// the CPU has them): search_q4_grid_ref (block_q4.cpp) on eight lanes, bit for bit. The
// reference keeps eight per-lane partial sums (lane = element % 8) and adds them up in lane
// order, so one vector of eight accumulators does the same arithmetic in the same order; every
// min / max below has the operand order that gives std::clamp's and std::max's result for NaN
// and signed zeros too. This is the inner loop of a q4k conversion (43 passes over each 32
// weights).
#include <immintrin.h>

#include <algorithm>

#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/q4_grid_search_steps.h"
#include "quant/x86/kernels.h"

namespace smoe::quant {
namespace {

// 32 values as four vectors: lane l of vector k is element 8k + l, the reference's lane l.
struct Block32 {
  __m256 v[4];
};

inline Block32 load_block(const float* p) {
  return {{_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24)}};
}

// std::clamp(v, lo, hi) = min(max(v, lo), hi): max_ps(lo, v) is v < lo ? lo : v, and
// min_ps(hi, r) is hi < r ? hi : r, NaN passing through both as in the reference.
inline __m256 clamp(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }

// block_q4.cpp's grid_index: round((x - m) * inverse_d) clamped to [0, 15], rounding by adding
// and removing 1.5 * 2^23 (ties to even).
inline __m256 grid_index(__m256 x, __m256 m, __m256 inverse_d) {
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  const __m256 scaled = clamp(_mm256_mul_ps(_mm256_sub_ps(x, m), inverse_d), _mm256_set1_ps(-1.0f),
                              _mm256_set1_ps(16.0f));
  const __m256 rounded = _mm256_sub_ps(_mm256_add_ps(scaled, magic), magic);
  return clamp(rounded, _mm256_setzero_ps(), _mm256_set1_ps(kQ4Levels));
}

// block_q4.cpp's evaluate_grid.
Q4GridFit evaluate_grid(const Block32& x, const Block32& weight, float d, float m) {
  const float inverse_d = d > 0.0f ? 1.0f / d : 0.0f;
  const __m256 d_v = _mm256_set1_ps(d), m_v = _mm256_set1_ps(m), inverse_v = _mm256_set1_ps(inverse_d);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 squared = _mm256_setzero_ps(), worst = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    const __m256 q = grid_index(x.v[k], m_v, inverse_v);
    const __m256 error =
        _mm256_andnot_ps(sign_bit, _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(d_v, q), m_v), x.v[k]));
    squared = _mm256_add_ps(squared, _mm256_mul_ps(_mm256_mul_ps(weight.v[k], error), error));
    worst = _mm256_max_ps(error, worst);  // std::max(worst, error): error only when worst < error
  }
  alignas(32) float squared_lanes[8], worst_lanes[8];
  _mm256_store_ps(squared_lanes, squared);
  _mm256_store_ps(worst_lanes, worst);
  Q4GridFit fit{d, m, 0.0f, 0.0f};
  for (int lane = 0; lane < 8; ++lane) {
    fit.squared_error += squared_lanes[lane];
    fit.max_error = std::max(fit.max_error, worst_lanes[lane]);
  }
  return fit;
}

// block_q4.cpp's least_squares_fit.
bool least_squares_fit(const Block32& x, const Block32& weight, float lo, float inverse_d, double weight_sum,
                       double weighted_x_sum, float* d, float* m) {
  const __m256 lo_v = _mm256_set1_ps(lo), inverse_v = _mm256_set1_ps(inverse_d);
  __m256 sum_q = _mm256_setzero_ps(), sum_qq = _mm256_setzero_ps(), sum_qx = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    const __m256 q = grid_index(x.v[k], lo_v, inverse_v);
    const __m256 weighted_q = _mm256_mul_ps(weight.v[k], q);
    sum_q = _mm256_add_ps(sum_q, weighted_q);
    sum_qq = _mm256_add_ps(sum_qq, _mm256_mul_ps(weighted_q, q));
    sum_qx = _mm256_add_ps(sum_qx, _mm256_mul_ps(weighted_q, x.v[k]));
  }
  alignas(32) float q_lanes[8], qq_lanes[8], qx_lanes[8];
  _mm256_store_ps(q_lanes, sum_q);
  _mm256_store_ps(qq_lanes, sum_qq);
  _mm256_store_ps(qx_lanes, sum_qx);
  double q_total = 0, qq_total = 0, qx_total = 0;
  for (int lane = 0; lane < 8; ++lane) {
    q_total += q_lanes[lane];
    qq_total += qq_lanes[lane];
    qx_total += qx_lanes[lane];
  }
  return solve_q4_least_squares(weight_sum, weighted_x_sum, q_total, qq_total, qx_total, d, m);
}

}  // namespace

Q4GridFit avx2_search_q4_grid(const float* x_in, const float* weight_in, float lo, float hi) {
  const Block32 x = load_block(x_in), weight = load_block(weight_in);
  return search_q4_grid_steps(
      x_in, weight_in, lo, hi,
      [&](float inverse_d, double weight_sum, double weighted_x_sum, float* d, float* m) {
        return least_squares_fit(x, weight, lo, inverse_d, weight_sum, weighted_x_sum, d, m);
      },
      [&](float d, float m) { return evaluate_grid(x, weight, d, m); });
}

void avx2_quantize_row_q4k(const float* src, BlockQ4K* dst, size_t n, const float* importance) {
  quantize_row_q4k_searched(src, dst, n, importance, avx2_search_q4_grid);
}

}  // namespace smoe::quant
