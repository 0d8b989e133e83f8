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

// The per-lane sums of block_q4.cpp's evaluate_grid for the grid (d, m): squared[l] (weighted
// squared errors) and worst[l] (largest error) over the elements of lane l.
inline void evaluate_lanes(const Block32& x, const Block32& weight, float d, float m, float* squared,
                           float* worst) {
  const float inverse_d = d > 0.0f ? 1.0f / d : 0.0f;
  const __m256 d_v = _mm256_set1_ps(d), m_v = _mm256_set1_ps(m), inverse_v = _mm256_set1_ps(inverse_d);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 squared_v = _mm256_setzero_ps(), worst_v = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    const __m256 q = grid_index(x.v[k], m_v, inverse_v);
    const __m256 error =
        _mm256_andnot_ps(sign_bit, _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(d_v, q), m_v), x.v[k]));
    squared_v = _mm256_add_ps(squared_v, _mm256_mul_ps(_mm256_mul_ps(weight.v[k], error), error));
    worst_v = _mm256_max_ps(error, worst_v);  // std::max(worst, error): error only when worst < error
  }
  _mm256_store_ps(squared, squared_v);
  _mm256_store_ps(worst, worst_v);
}

// evaluate_grid's result from its lane sums, added up in lane order.
inline Q4GridFit fit_from_lanes(float d, float m, const float* squared, const float* worst) {
  Q4GridFit fit{d, m, 0.0f, 0.0f};
  for (int lane = 0; lane < 8; ++lane) {
    fit.squared_error += squared[lane];
    fit.max_error = std::max(fit.max_error, worst[lane]);
  }
  return fit;
}

// The per-lane sums of block_q4.cpp's least_squares_fit on the grid (1 / inverse_d, lo):
// sum w q, sum w q^2, sum w q x over the elements of each lane.
inline void least_squares_lanes(const Block32& x, const Block32& weight, float lo, float inverse_d, float* sum_q,
                                float* sum_qq, float* sum_qx) {
  const __m256 lo_v = _mm256_set1_ps(lo), inverse_v = _mm256_set1_ps(inverse_d);
  __m256 q_v = _mm256_setzero_ps(), qq_v = _mm256_setzero_ps(), qx_v = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    const __m256 q = grid_index(x.v[k], lo_v, inverse_v);
    const __m256 weighted_q = _mm256_mul_ps(weight.v[k], q);
    q_v = _mm256_add_ps(q_v, weighted_q);
    qq_v = _mm256_add_ps(qq_v, _mm256_mul_ps(weighted_q, q));
    qx_v = _mm256_add_ps(qx_v, _mm256_mul_ps(weighted_q, x.v[k]));
  }
  _mm256_store_ps(sum_q, q_v);
  _mm256_store_ps(sum_qq, qq_v);
  _mm256_store_ps(sum_qx, qx_v);
}

}  // namespace

// search_q4_grid_steps' arithmetic in phases over all grid densities at once: the vector
// passes of every density, then every density's scalar lane sums and solve, then the
// evaluations, then the choice in the reference's order. Done one density after another, each
// waits on its own chain of scalar additions; in phases those chains overlap.
Q4GridFit avx2_search_q4_grid(const float* x_in, const float* weight_in, float lo, float hi) {
  const Block32 x = load_block(x_in), weight = load_block(weight_in);
  const float range = hi - lo;
  double weight_sum = 0, weighted_x_sum = 0;
  q4_weight_sums(x_in, weight_in, &weight_sum, &weighted_x_sum);
  // Fit 0 is the min/max grid; fit s + 1 the least-squares refit of density s.
  constexpr int kFits = kQ4GridSteps + 1;
  alignas(32) float sum_q[kQ4GridSteps][8], sum_qq[kQ4GridSteps][8], sum_qx[kQ4GridSteps][8];
  for (int step = 0; step < kQ4GridSteps; ++step) {
    least_squares_lanes(x, weight, lo, q4_step_inverse(step, range), sum_q[step], sum_qq[step], sum_qx[step]);
  }
  float d[kFits], m[kFits];
  bool solved[kFits];
  d[0] = range / kQ4Levels;
  m[0] = lo;
  solved[0] = true;
  for (int step = 0; step < kQ4GridSteps; ++step) {
    double q_total = 0, qq_total = 0, qx_total = 0;
    for (int lane = 0; lane < 8; ++lane) {
      q_total += sum_q[step][lane];
      qq_total += sum_qq[step][lane];
      qx_total += sum_qx[step][lane];
    }
    d[step + 1] = 0.0f;
    m[step + 1] = 0.0f;
    solved[step + 1] = solve_q4_least_squares(weight_sum, weighted_x_sum, q_total, qq_total, qx_total, &d[step + 1],
                                              &m[step + 1]);
  }
  alignas(32) float squared[kFits][8], worst[kFits][8];
  for (int fit = 0; fit < kFits; ++fit) {
    if (solved[fit]) evaluate_lanes(x, weight, d[fit], m[fit], squared[fit], worst[fit]);
  }
  Q4GridFit best = fit_from_lanes(d[0], m[0], squared[0], worst[0]);
  const float allowed_error = q4_allowed_error(range);
  for (int fit = 1; fit < kFits; ++fit) {
    if (!solved[fit]) continue;
    const Q4GridFit candidate = fit_from_lanes(d[fit], m[fit], squared[fit], worst[fit]);
    if (candidate.squared_error < best.squared_error && candidate.max_error <= allowed_error) best = candidate;
  }
  return best;
}

void avx2_quantize_row_q4k(const float* src, BlockQ4K* dst, size_t n, const float* importance) {
  quantize_row_q4k_searched(src, dst, n, importance, avx2_search_q4_grid);
}

}  // namespace smoe::quant
