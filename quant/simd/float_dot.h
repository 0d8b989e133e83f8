// Unquantized weight rows (f32, f16, bf16: `--type f16`, `--type bf16`, or `--type keep` on a
// bf16 checkpoint) against f32 activations, written once over an architecture's vector traits
// (simd/float_vector.h) and instantiated by x86/kernels_avx2.cpp (Avx2Vector),
// x86/kernels_avx512.cpp (Avx512Vector) and arm/kernels_neon.cpp (NeonVector). Decoding reads
// each weight once, 2 or 4 bytes per multiply-add, so a few independent chains (the
// multiply-add latency) and the weight prefetch of the quantized kernels are all it takes to
// stream at the memory's speed; the scalar loop these replace ran at 10% of it
// (docs/PERFORMANCE.md). The activations stay f32: no rounding beyond the weights' own, so
// results match the scalar reference (f16_vector.cpp) up to summation order.
#pragma once

#include <cstddef>

#include "quant/kernels.h"
#include "quant/simd/float_vector.h"
#include "quant/simd/prefetch.h"

namespace smoe::quant {
namespace {  // every including file gets its own copy, compiled with its own flags

// sum_i w[i] * x[i], T = float, uint16_t (f16) or Bf16.
template <FloatVector Vec, Prefetch P, class T>
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

// Rows at least this long go four at a time, each activation vector loaded once for the four.
// Alone, bf16 rows of 14336 (an expert's w2) streamed from DRAM at about half a plain read's
// rate: their 57 KB of f32 activations do not stay in L1 beside the weights passing through.
// Four at a time recovers much of it. Rows of 4096 stream at the plain read's speed alone and
// slower four at a time.
constexpr size_t kLongRow = 8192;

template <FloatVector Vec, Prefetch P, class T>
void dot_four_rows(const T* w, size_t stride, const float* x, size_t n, float* out) {
  constexpr size_t kWidth = Vec::kWidth, kStep = 2 * kWidth, kStepBytes = kStep * sizeof(T);
  constexpr size_t kPrefetchEvery = kStepBytes < 64 ? 64 : kStepBytes;  // bytes of a row between prefetches
  typename Vec::V sums[4][2];
  for (auto& row : sums) row[0] = row[1] = Vec::zero();
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    const typename Vec::V x0 = Vec::load(x + i), x1 = Vec::load(x + i + kWidth);
    for (size_t r = 0; r < 4; ++r) {
      const T* row = w + r * stride + i;
      if ((i * sizeof(T)) % kPrefetchEvery == 0) prefetch_ahead<P>(row, int(kPrefetchEvery / 64));
      sums[r][0] = Vec::fma(Vec::load(row), x0, sums[r][0]);
      sums[r][1] = Vec::fma(Vec::load(row + kWidth), x1, sums[r][1]);
    }
  }
  for (size_t r = 0; r < 4; ++r) {
    const T* row = w + r * stride;
    float total = Vec::reduce(Vec::add(sums[r][0], sums[r][1]));
    for (size_t k = i; k < n; ++k) total += to_float(row[k]) * x[k];  // past the last step
    out[r] = total;
  }
}

template <FloatVector Vec, Prefetch P, class T>
void dot_float_rows(const T* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  if (n >= kLongRow) {
    for (; r + 4 <= rows; r += 4) dot_four_rows<Vec, P>(w + r * stride, stride, x, n, out + r);
  }
  for (; r < rows; ++r) out[r] = dot_float_row<Vec, P>(w + r * stride, x, n);
}

template <FloatVector Vec, Prefetch P>
void dot_rows_f32(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  dot_float_rows<Vec, P>(w, stride, rows, x, n, out);
}
template <FloatVector Vec, Prefetch P>
void dot_rows_f16(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  dot_float_rows<Vec, P>(w, stride, rows, x, n, out);
}
template <FloatVector Vec, Prefetch P>
void dot_rows_bf16(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  dot_float_rows<Vec, P>(reinterpret_cast<const Bf16*>(w), stride, rows, x, n, out);
}

}  // namespace
}  // namespace smoe::quant
