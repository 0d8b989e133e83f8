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
#include "quant/formats/round_to_even.h"
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
// and removing 1.5 * 2^23 (ties to even: round_to_even on eight lanes).
inline __m256 grid_index(__m256 x, __m256 m, __m256 inverse_d) {
  const __m256 magic = _mm256_set1_ps(kRoundToEvenMagic);
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

// r[i] (row i, 8 lanes) -> r[j] = lane j of rows 0..7.
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The lane sums of eight rows (rows[i][lane]) in double, added in lane order from zero as the
// reference adds one row's lanes: low = rows 0..3's totals, high = rows 4..7's.
inline void lane_totals(const float (*rows)[8], __m256d* low, __m256d* high) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_load_ps(rows[i]);
  transpose8(r);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (int lane = 0; lane < 8; ++lane) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(r[lane])));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(r[lane], 1)));
  }
  *low = lo;
  *high = hi;
}

// solve_q4_least_squares for four assignments at once, operation for operation in double:
// d and m (float) and whether each is solved.
inline void solve_four(double weight_sum, double weighted_x_sum, __m256d q_total, __m256d qq_total, __m256d qx_total,
                       float* d, float* m, bool* solved) {
  const __m256d ws = _mm256_set1_pd(weight_sum), wx = _mm256_set1_pd(weighted_x_sum);
  const __m256d determinant = _mm256_sub_pd(_mm256_mul_pd(ws, qq_total), _mm256_mul_pd(q_total, q_total));
  const __m128 d_f = _mm256_cvtpd_ps(
      _mm256_div_pd(_mm256_sub_pd(_mm256_mul_pd(ws, qx_total), _mm256_mul_pd(q_total, wx)), determinant));
  const __m128 m_f = _mm256_cvtpd_ps(
      _mm256_div_pd(_mm256_sub_pd(wx, _mm256_mul_pd(_mm256_cvtps_pd(d_f), q_total)), ws));
  const int determinant_positive = _mm256_movemask_pd(_mm256_cmp_pd(determinant, _mm256_setzero_pd(), _CMP_GT_OQ));
  const int d_positive = _mm_movemask_ps(_mm_cmp_ps(d_f, _mm_setzero_ps(), _CMP_GT_OQ));
  _mm_storeu_ps(d, d_f);
  _mm_storeu_ps(m, m_f);
  for (int i = 0; i < 4; ++i) {
    solved[i] = (determinant_positive >> i & 1) && (d_positive >> i & 1);
    if (!(determinant_positive >> i & 1)) d[i] = m[i] = 0.0f;  // the reference leaves them so
  }
}

// fit_from_lanes for eight fits at once: squared errors added and worst errors taken in lane
// order from zero, in float, as the reference does one fit's lanes.
inline void fits_from_lanes(const float (*squared)[8], const float (*worst)[8], float* squared_error,
                            float* max_error) {
  __m256 s[8], w[8];
  for (int i = 0; i < 8; ++i) {
    s[i] = _mm256_load_ps(squared[i]);
    w[i] = _mm256_load_ps(worst[i]);
  }
  transpose8(s);
  transpose8(w);
  __m256 total = _mm256_setzero_ps(), largest = _mm256_setzero_ps();
  for (int lane = 0; lane < 8; ++lane) {
    total = _mm256_add_ps(total, s[lane]);
    largest = _mm256_max_ps(w[lane], largest);  // std::max(largest, w): w only when largest < w
  }
  _mm256_storeu_ps(squared_error, total);
  _mm256_storeu_ps(max_error, largest);
}

}  // namespace

// search_q4_grid_steps' arithmetic in phases over all grid densities at once: the vector
// passes of every density, then every density's lane sums and solve, eight densities to a
// vector, then the evaluations, then the choice in the reference's order. Done one density
// after another, each waits on its own chain of scalar additions; across densities the lane
// sums are the same additions in the same order, one vector lane per density.
Q4GridFit avx2_search_q4_grid(const float* x_in, const float* weight_in, float lo, float hi) {
  const Block32 x = load_block(x_in), weight = load_block(weight_in);
  const float range = hi - lo;
  double weight_sum = 0, weighted_x_sum = 0;
  q4_weight_sums(x_in, weight_in, &weight_sum, &weighted_x_sum);
  // Fit 0 is the min/max grid; fit s + 1 the least-squares refit of density s. Rows are padded
  // to whole groups of eight (the padding is computed on zeros and never chosen).
  constexpr int kFits = kQ4GridSteps + 1;
  constexpr int kPaddedSteps = (kQ4GridSteps + 7) / 8 * 8, kPaddedFits = (kFits + 7) / 8 * 8;
  alignas(32) float sum_q[kPaddedSteps][8], sum_qq[kPaddedSteps][8], sum_qx[kPaddedSteps][8];
  for (int step = 0; step < kQ4GridSteps; ++step) {
    least_squares_lanes(x, weight, lo, q4_step_inverse(step, range), sum_q[step], sum_qq[step], sum_qx[step]);
  }
  for (int step = kQ4GridSteps; step < kPaddedSteps; ++step) {
    for (int lane = 0; lane < 8; ++lane) sum_q[step][lane] = sum_qq[step][lane] = sum_qx[step][lane] = 0.0f;
  }
  float d[kPaddedFits + 4], m[kPaddedFits + 4];
  bool solved[kPaddedFits + 4];
  d[0] = range / kQ4Levels;
  m[0] = lo;
  solved[0] = true;
  for (int group = 0; group < kPaddedSteps; group += 8) {
    __m256d q_low, q_high, qq_low, qq_high, qx_low, qx_high;
    lane_totals(sum_q + group, &q_low, &q_high);
    lane_totals(sum_qq + group, &qq_low, &qq_high);
    lane_totals(sum_qx + group, &qx_low, &qx_high);
    solve_four(weight_sum, weighted_x_sum, q_low, qq_low, qx_low, &d[group + 1], &m[group + 1], &solved[group + 1]);
    solve_four(weight_sum, weighted_x_sum, q_high, qq_high, qx_high, &d[group + 5], &m[group + 5],
               &solved[group + 5]);
  }
  alignas(32) float squared[kPaddedFits][8], worst[kPaddedFits][8];
  for (int fit = 0; fit < kPaddedFits; ++fit) {
    if (fit < kFits && solved[fit]) {
      evaluate_lanes(x, weight, d[fit], m[fit], squared[fit], worst[fit]);
    } else {
      for (int lane = 0; lane < 8; ++lane) squared[fit][lane] = worst[fit][lane] = 0.0f;
    }
  }
  float squared_error[kPaddedFits], max_error[kPaddedFits];
  for (int group = 0; group < kPaddedFits; group += 8) {
    fits_from_lanes(squared + group, worst + group, &squared_error[group], &max_error[group]);
  }
  Q4GridFit best{d[0], m[0], squared_error[0], max_error[0]};
  const float allowed_error = q4_allowed_error(range);
  for (int fit = 1; fit < kFits; ++fit) {
    if (!solved[fit]) continue;
    if (squared_error[fit] < best.squared_error && max_error[fit] <= allowed_error) {
      best = {d[fit], m[fit], squared_error[fit], max_error[fit]};
    }
  }
  return best;
}

void avx2_quantize_row_q4k(const float* src, BlockQ4K* dst, size_t n, const float* importance) {
  quantize_row_q4k_searched(src, dst, n, importance, avx2_search_q4_grid);
}

}  // namespace smoe::quant
