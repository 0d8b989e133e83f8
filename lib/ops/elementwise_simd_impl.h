// Definitions of the xsimd element-wise kernels (elementwise_simd.h); included only by the
// per-arch files, each compiled with its own flags, which instantiate them for their arch.
#pragma once

#include <algorithm>
#include <cmath>

#include "ops/elementwise_simd.h"

namespace smoe::ops::simd {

template <class Arch>
void Softmax::operator()(Arch, float* x, size_t n, float scale) const {
  using Batch = xsimd::batch<float, Arch>;
  constexpr size_t kWidth = Batch::size;
  const size_t vector_end = n / kWidth * kWidth;
  float max = -INFINITY;
  if (vector_end > 0) {
    Batch maxima = Batch::load_unaligned(x);
    for (size_t i = kWidth; i < vector_end; i += kWidth) maxima = xsimd::max(maxima, Batch::load_unaligned(x + i));
    alignas(64) float lanes[kWidth];
    maxima.store_aligned(lanes);
    max = *std::max_element(lanes, lanes + kWidth);
  }
  for (size_t i = vector_end; i < n; ++i) max = std::max(max, x[i]);
  // exp(scale * (x - max)): the largest term is exp(0) = 1, so nothing overflows.
  const float shift = scale * max;
  Batch sums(0.0f);
  for (size_t i = 0; i < vector_end; i += kWidth) {
    const Batch e = xsimd::exp(xsimd::fms(Batch(scale), Batch::load_unaligned(x + i), Batch(shift)));
    e.store_unaligned(x + i);
    sums += e;
  }
  float sum = xsimd::hadd(sums);
  for (size_t i = vector_end; i < n; ++i) {
    x[i] = std::exp(scale * x[i] - shift);
    sum += x[i];
  }
  const float inverse = 1.0f / sum;
  for (size_t i = 0; i < vector_end; i += kWidth) (Batch::load_unaligned(x + i) * inverse).store_unaligned(x + i);
  for (size_t i = vector_end; i < n; ++i) x[i] *= inverse;
}

template <class Arch>
void SiluMul::operator()(Arch, float* gate, const float* up, size_t n) const {
  using Batch = xsimd::batch<float, Arch>;
  constexpr size_t kWidth = Batch::size;
  size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    const Batch g = Batch::load_unaligned(gate + i);
    (g / (Batch(1.0f) + xsimd::exp(-g)) * Batch::load_unaligned(up + i)).store_unaligned(gate + i);
  }
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// Instantiates every kernel for `ARCH` (in exactly one file per arch).
#define SMOE_INSTANTIATE_ELEMENTWISE(ARCH)                                              \
  template void Softmax::operator()<ARCH>(ARCH, float*, size_t, float) const; \
  template void SiluMul::operator()<ARCH>(ARCH, float*, const float*, size_t) const;

}  // namespace smoe::ops::simd
