// Unquantized weight rows (f32, f16, bf16: `--type f16`, `--type bf16`, or `--type keep` on a
// bf16 checkpoint) against f32 activations, written once over the vector traits of
// vector_x86.h and instantiated by kernels_avx2.cpp (Avx2Vector) and kernels_avx512.cpp
// (Avx512Vector). Decoding reads each weight once, 2 or 4 bytes per multiply-add, so a few
// independent chains (the multiply-add latency) and the weight prefetch of the quantized
// kernels are all it takes to stream at the memory's speed; the scalar loop these replace ran
// at 10% of it (docs/PERFORMANCE.md). The activations stay f32: no rounding beyond the
// weights' own, so results match the scalar reference (f16_vector.cpp) up to summation order.
#pragma once

#include <cstddef>

#include "quant/kernels_x86.h"
#include "quant/vector_x86.h"

namespace smoe::quant {
namespace {  // every including file gets its own copy, compiled with its own flags

// sum_i w[i] * x[i], T = float, uint16_t (f16) or Bf16.
template <class Vec, Prefetch P, class T>
float dot_float_row(const T* w, const float* x, size_t n) {
  constexpr size_t kWidth = Vec::kWidth, kChains = 4, kStep = kChains * kWidth;
  typename Vec::V sums[kChains];
  for (auto& sum : sums) sum = Vec::zero();
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    prefetch_ahead<P>(w + i, int(kStep * sizeof(T) / 64));
    for (size_t k = 0; k < kChains; ++k) sums[k] = Vec::fma(Vec::load(w + i + k * kWidth), Vec::load(x + i + k * kWidth), sums[k]);
  }
  for (; i + kWidth <= n; i += kWidth) sums[0] = Vec::fma(Vec::load(w + i), Vec::load(x + i), sums[0]);
  float total = Vec::reduce(Vec::add(Vec::add(sums[0], sums[1]), Vec::add(sums[2], sums[3])));
  for (; i < n; ++i) total += to_float(w[i]) * x[i];  // past the last vector
  return total;
}

template <class Vec, Prefetch P>
float dot_f32_row(const float* w, const float* x, size_t n) {
  return dot_float_row<Vec, P>(w, x, n);
}
template <class Vec, Prefetch P>
float dot_f16_row(const uint16_t* w, const float* x, size_t n) {
  return dot_float_row<Vec, P>(w, x, n);
}
template <class Vec, Prefetch P>
float dot_bf16_row(const uint16_t* w, const float* x, size_t n) {
  return dot_float_row<Vec, P>(reinterpret_cast<const Bf16*>(w), x, n);
}

}  // namespace
}  // namespace smoe::quant
