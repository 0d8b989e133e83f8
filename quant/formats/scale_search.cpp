// Symmetric least-squares scale search (see scale_search.h).
#include "quant/formats/scale_search.h"

#include <algorithm>
#include <cmath>

namespace smoe::quant {

float search_symmetric_scale(const float* x, const float* weights, size_t n, int lowest, int highest) {
  float peak = 0.0f;  // the signed weight of largest magnitude
  for (size_t i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(peak)) peak = x[i];
  }
  if (peak == 0.0f) return 0.0f;
  float best_scale = 0.0f;
  double best_gain = -1.0;  // sum(w x L)^2 / sum(w L^2): error = sum(w x^2) - gain
  for (const int end : {lowest, highest}) {
    for (int step = -9; step <= 9; ++step) {
      const float stretch = static_cast<float>(end) + (end < 0 ? -0.1f : 0.1f) * static_cast<float>(step);
      const float inverse = stretch / peak;
      double sum_xl = 0, sum_ll = 0;
      for (size_t i = 0; i < n; ++i) {
        const float level = std::clamp(std::nearbyint(x[i] * inverse), float(lowest), float(highest));
        const double weight = weights ? weights[i] : 1.0;
        sum_xl += weight * x[i] * level;
        sum_ll += weight * level * level;
      }
      if (sum_ll <= 0) continue;
      const double gain = sum_xl * sum_xl / sum_ll;
      if (gain > best_gain) {
        best_gain = gain;
        best_scale = static_cast<float>(sum_xl / sum_ll);
      }
    }
  }
  return best_scale;
}

float search_sub_block_scales(const float* x, const float* weights, int lowest, int highest, float* scales,
                              SymmetricScaleSearch search) {
  float peak = 0.0f;
  for (size_t j = 0; j < 16; ++j) {
    scales[j] = search(x + j * 16, weights + j * 16, 16, lowest, highest);
    if (std::fabs(scales[j]) > std::fabs(peak)) peak = scales[j];
  }
  return peak;
}

void super_block_error_weights(const float* x, const float* importance, size_t n, float* out) {
  if (!importance) {
    std::fill_n(out, n, 1.0f);
    return;
  }
  double sum_squares = 0;
  for (size_t i = 0; i < n; ++i) sum_squares += double(x[i]) * x[i];
  const auto sigma2 = static_cast<float>(sum_squares / double(n));
  for (size_t i = 0; i < n; ++i) out[i] = importance[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

}  // namespace smoe::quant
