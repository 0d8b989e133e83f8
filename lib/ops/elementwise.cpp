// Element-wise operations: the exp-heavy ones through the xsimd kernels (elementwise_simd.h),
// dispatched once to the best instruction set; their scalar references; and RMSNorm (a plain
// loop: one per token and layer, not worth a kernel).
#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>

#include "ops/elementwise_simd.h"

namespace smoe::ops {

void rms_norm(const float* x, const float* weight, size_t n, float eps, float* out) {
  double sum_squares = 0.0;
  for (size_t i = 0; i < n; ++i) sum_squares += double(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(float(sum_squares / double(n)) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void silu_mul(float* gate, const float* up, size_t n) {
  static auto kernel = xsimd::dispatch<simd::Architectures>(simd::SiluMul{});
  kernel(gate, up, n);
}

void softmax(float* x, size_t n, float scale) {
  if (n == 0) return;
  static auto kernel = xsimd::dispatch<simd::Architectures>(simd::Softmax{});
  kernel(x, n, scale);
}

void silu_mul_ref(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void softmax_ref(float* x, size_t n, float scale) {
  if (n == 0) return;
  const float max = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(scale * (x[i] - max));
    sum += x[i];
  }
  for (size_t i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace smoe::ops
