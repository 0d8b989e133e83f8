// AVX2 symmetric scale search (compiled with -mavx2 -mfma -mf16c -ffp-contract=off; selected
// only when the CPU has them): search_symmetric_scale (scale_search.cpp) bit for bit, for the
// q6k and q3k quantizers. The reference tries 38 candidate scales one after another, each a
// sum over the group in double; here each lane is one candidate, so every candidate's sums see
// the same operations in the same order, and the best is then chosen in the reference's order.
#include <immintrin.h>

#include <cmath>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/scale_search.h"
#include "quant/x86/kernels.h"

namespace smoe::quant {
namespace {

constexpr int kSteps = 19;                  // stretches -9 .. +9 tenths of a level
constexpr int kCandidates = 2 * kSteps;     // both ends of the grid
constexpr int kPadded = 40;                 // five vectors of eight

}  // namespace

float avx2_search_symmetric_scale(const float* x, const float* weights, size_t n, int lowest, int highest) {
  float peak = 0.0f;  // the signed weight of largest magnitude
  for (size_t i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(peak)) peak = x[i];
  }
  if (peak == 0.0f) return 0.0f;
  alignas(32) float inverses[kPadded] = {};  // candidate c: end c / kSteps, step c % kSteps - 9
  for (int c = 0; c < kCandidates; ++c) {
    const int end = c < kSteps ? lowest : highest;
    const int step = c % kSteps - 9;
    const float stretch = static_cast<float>(end) + (end < 0 ? -0.1f : 0.1f) * static_cast<float>(step);
    inverses[c] = stretch / peak;
  }
  alignas(32) double sum_xl[kPadded], sum_ll[kPadded];
  const __m256 low = _mm256_set1_ps(float(lowest)), high = _mm256_set1_ps(float(highest));
  for (int group = 0; group < kPadded; group += 8) {
    const __m256 inverse = _mm256_load_ps(inverses + group);
    __m256d xl_low = _mm256_setzero_pd(), xl_high = _mm256_setzero_pd();
    __m256d ll_low = _mm256_setzero_pd(), ll_high = _mm256_setzero_pd();
    for (size_t i = 0; i < n; ++i) {
      // std::clamp(nearbyint(x * inverse), lowest, highest) in float, as the reference.
      const __m256 rounded = _mm256_round_ps(_mm256_mul_ps(_mm256_set1_ps(x[i]), inverse),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      const __m256 level = _mm256_min_ps(high, _mm256_max_ps(low, rounded));
      const __m256d level_low = _mm256_cvtps_pd(_mm256_castps256_ps128(level));
      const __m256d level_high = _mm256_cvtps_pd(_mm256_extractf128_ps(level, 1));
      const double weight = weights ? weights[i] : 1.0;
      const __m256d weight_v = _mm256_set1_pd(weight);
      const __m256d weighted_x = _mm256_set1_pd(weight * x[i]);
      xl_low = _mm256_add_pd(xl_low, _mm256_mul_pd(weighted_x, level_low));
      xl_high = _mm256_add_pd(xl_high, _mm256_mul_pd(weighted_x, level_high));
      ll_low = _mm256_add_pd(ll_low, _mm256_mul_pd(_mm256_mul_pd(weight_v, level_low), level_low));
      ll_high = _mm256_add_pd(ll_high, _mm256_mul_pd(_mm256_mul_pd(weight_v, level_high), level_high));
    }
    _mm256_store_pd(sum_xl + group, xl_low);
    _mm256_store_pd(sum_xl + group + 4, xl_high);
    _mm256_store_pd(sum_ll + group, ll_low);
    _mm256_store_pd(sum_ll + group + 4, ll_high);
  }
  float best_scale = 0.0f;
  double best_gain = -1.0;  // sum(w x L)^2 / sum(w L^2): error = sum(w x^2) - gain
  for (int c = 0; c < kCandidates; ++c) {
    if (sum_ll[c] <= 0) continue;
    const double gain = sum_xl[c] * sum_xl[c] / sum_ll[c];
    if (gain > best_gain) {
      best_gain = gain;
      best_scale = static_cast<float>(sum_xl[c] / sum_ll[c]);
    }
  }
  return best_scale;
}

void avx2_quantize_row_q6k(const float* src, BlockQ6K* dst, size_t n, const float* importance) {
  quantize_row_q6k_searched(src, dst, n, importance, avx2_search_symmetric_scale);
}

void avx2_quantize_row_q3k(const float* src, BlockQ3K* dst, size_t n, const float* importance) {
  quantize_row_q3k_searched(src, dst, n, importance, avx2_search_symmetric_scale);
}

}  // namespace smoe::quant
