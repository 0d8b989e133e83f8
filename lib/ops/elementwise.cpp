// Element-wise operations: the exp-heavy ones through the xsimd kernels (elementwise_simd.h)
// of the CPU plan's level; their scalar references; and RMSNorm (a plain loop: one per token
// and layer, not worth a kernel).
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

namespace {

// Function pointers to the per-arch instantiations (elementwise_<arch>.cpp).
template <class Arch>
void silu_mul_on(float* gate, const float* up, size_t n) {
  simd::SiluMul{}(Arch{}, gate, up, n);
}

template <class Arch>
void softmax_on(float* x, size_t n, float scale) {
  if (n != 0) simd::Softmax{}(Arch{}, x, n, scale);
}

template <class Arch>
constexpr ElementwiseKernels kernels_of() {
  return {.silu_mul = silu_mul_on<Arch>, .softmax = softmax_on<Arch>};
}

}  // namespace

ElementwiseKernels elementwise_kernels(quant::Isa isa) {
  using quant::Isa;
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx2:
    case Isa::avx2_vnni: return kernels_of<xsimd::fma3<xsimd::avx2>>();
    case Isa::avx512:
    case Isa::avx512_vnni: return kernels_of<xsimd::avx512f>();
#elif defined(__aarch64__)
    case Isa::neon:
    case Isa::neon_dotprod: return kernels_of<xsimd::neon64>();
#endif
    default: break;
  }
  return {.silu_mul = silu_mul_ref, .softmax = softmax_ref};
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
