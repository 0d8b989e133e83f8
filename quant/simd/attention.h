// The attention kernels over a KV cache (f16, or int8 with one scale per position), written
// once over an architecture's vector traits (simd/float_vector.h) and instantiated by
// x86/kernels_avx2.cpp (Avx2Vector), x86/kernels_avx512.cpp (Avx512Vector) and
// arm/kernels_neon.cpp (NeonVector) under their own flags. One KV head's positions are rows
// of n values, contiguous (the cache is head-major).
//
// Keys: each position's row is converted once for the (up to 4) query heads that share it;
// blocks of kPositions positions (1 NEON, 2 AVX2, 4 AVX-512) keep 4, 8 or 16 independent
// accumulators, reduced together by one transposing sum.
// Values: the output of 4 heads x kValueVectors vectors (16 dims NEON and AVX2, 64 AVX-512)
// stays in registers while a chunk of 8 positions streams past (their rows stay in L1 for the
// next dims), instead of loading and storing the output once per position; each pass over a
// chunk prefetches the same dims of the next chunk (4 x 64 dims a pass measured faster than
// 4 x 32 with AVX-512).
// Prefetch distances, chosen from DRAM measurements on x86 (smoe-bench-kernels
// attention/.../dram): keys 4 rows (1 KiB) ahead, farther being slower; values in chunks of 8
// rows, since a pass over a larger chunk touches one line of each of many rows, 256 bytes
// apart across pages, which the hardware prefetchers do not follow (64 rows read about 35%
// slower). An L2 prefetch further ahead (as the dot kernels have) did not help either stream.
// NEON uses the same distances, unmeasured on hardware (the tests run under qemu).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "quant/simd/float_vector.h"
#include "quant/simd/prefetch.h"

namespace smoe::quant {
namespace {  // every including file gets its own copy, compiled with its own flags

// Cached rows are read once per token from DRAM, in order: ask for the row this many
// positions ahead. The hardware prefetchers do most of it; asking from further ahead was
// slower (see the top of the file).
constexpr size_t kRowsAhead = 4;
// The value sums' chunk: positions whose rows stream past the output held in registers.
constexpr size_t kValueChunk = 8;

template <class T>
inline void prefetch_row(const T* row, size_t n) {
  for (size_t byte = 0; byte < n * sizeof(T); byte += 64) prefetch_l1(reinterpret_cast<const char*>(row) + byte);
}

// scores[j * stride + p] = scale_p * sum_i key[p * n + i] * q[j * n + i] for G (1..4) heads
// and P consecutive positions; scale_p = scales[p], or 1 without scales. The G x P
// accumulators are independent chains (one position's 4 chains of n / width steps waited on
// the multiply-add latency), and their lane sums come out of one transposing reduction.
template <FloatVector Vec, size_t G, size_t P, class T>
[[gnu::always_inline]] inline void key_scores_block(const T* keys, const float* scales, size_t first, size_t count,
                                                    const float* q, size_t n, float* scores, size_t stride) {
  static_assert(G * P <= Vec::kWidth);
  const T* rows = keys + first * n;
  if (first + P + kRowsAhead <= count) prefetch_row(rows + kRowsAhead * n, P * n);
  typename Vec::V totals[Vec::kWidth];  // [j * P + k]: head j, position first + k
  for (size_t a = 0; a < Vec::kWidth; ++a) totals[a] = Vec::zero();
  size_t i = 0;
  for (; i + Vec::kWidth <= n; i += Vec::kWidth) {
    typename Vec::V queries[G];
    for (size_t j = 0; j < G; ++j) queries[j] = Vec::load(q + j * n + i);
    for (size_t k = 0; k < P; ++k) {
      const typename Vec::V key = Vec::load(rows + k * n + i);
      for (size_t j = 0; j < G; ++j) totals[j * P + k] = Vec::fma(key, queries[j], totals[j * P + k]);
    }
  }
  alignas(64) float sums[Vec::kWidth];
  Vec::store(sums, Vec::sum_lanes(totals));
  for (; i < n; ++i) {  // dims past the last vector
    for (size_t k = 0; k < P; ++k) {
      for (size_t j = 0; j < G; ++j) sums[j * P + k] += to_float(rows[k * n + i]) * q[j * n + i];
    }
  }
  float scale[P];
  for (size_t k = 0; k < P; ++k) scale[k] = scales ? scales[first + k] : 1.0f;
  // Each head's P scores are contiguous in sums and in scores: one vector multiply and store.
  for (size_t j = 0; j < G; ++j) {
    for (size_t k = 0; k < P; ++k) scores[j * stride + first + k] = sums[j * P + k] * scale[k];
  }
}

template <FloatVector Vec, size_t G, class T>
void key_scores_heads(const T* keys, const float* scales, size_t count, const float* q, size_t n, float* scores,
                      size_t stride) {
  size_t p = 0;
  for (; p + Vec::kPositions <= count; p += Vec::kPositions) {
    key_scores_block<Vec, G, Vec::kPositions>(keys, scales, p, count, q, n, scores, stride);
  }
  for (; p < count; ++p) key_scores_block<Vec, G, 1>(keys, scales, p, count, q, n, scores, stride);
}

template <FloatVector Vec, class T>
void key_scores(const T* keys, const float* scales, size_t count, const float* q, size_t group, size_t n, float* scores,
                size_t stride) {
  size_t first = 0;
  for (; first + 4 <= group; first += 4) {
    key_scores_heads<Vec, 4>(keys, scales, count, q + first * n, n, scores + first * stride, stride);
  }
  const size_t rest = group - first;
  const float* q_rest = q + first * n;
  float* scores_rest = scores + first * stride;
  if (rest == 3) key_scores_heads<Vec, 3>(keys, scales, count, q_rest, n, scores_rest, stride);
  if (rest == 2) key_scores_heads<Vec, 2>(keys, scales, count, q_rest, n, scores_rest, stride);
  if (rest == 1) key_scores_heads<Vec, 1>(keys, scales, count, q_rest, n, scores_rest, stride);
}

// One pass of the value sums over a chunk's rows: dims [i, i + D * width) of G heads stay in
// registers while the chunk's rows stream past; prefetches the same dims of the next chunk.
template <FloatVector Vec, size_t G, size_t D, class T>
[[gnu::always_inline]] inline void value_pass(const float (*scaled)[kValueChunk], const T* rows, size_t chunk,
                                              bool next_chunk, size_t i, size_t n, float* out) {
  constexpr size_t kWidth = Vec::kWidth;
  typename Vec::V sums[G][D];
  for (size_t j = 0; j < G; ++j) {
    for (size_t d = 0; d < D; ++d) sums[j][d] = Vec::load(out + j * n + i + d * kWidth);
  }
  for (size_t p = 0; p < chunk; ++p) {
    if (next_chunk) {
      for (size_t byte = 0; byte < D * kWidth * sizeof(T); byte += 64) {
        prefetch_l1(reinterpret_cast<const char*>(rows + (kValueChunk + p) * n + i) + byte);
      }
    }
    typename Vec::V v[D];
    for (size_t d = 0; d < D; ++d) v[d] = Vec::load(rows + p * n + i + d * kWidth);
    for (size_t j = 0; j < G; ++j) {
      const typename Vec::V w = Vec::broadcast(&scaled[j][p]);
      for (size_t d = 0; d < D; ++d) sums[j][d] = Vec::fma(w, v[d], sums[j][d]);
    }
  }
  for (size_t j = 0; j < G; ++j) {
    for (size_t d = 0; d < D; ++d) Vec::store(out + j * n + i + d * kWidth, sums[j][d]);
  }
}

// out[j * n + i] += sum_p weights[j * stride + p] * scale_p * value[p * n + i] for G (1..4) heads.
template <FloatVector Vec, size_t G, class T>
void value_sum_heads(const float* weights, size_t stride, const T* values, const float* scales, size_t count, size_t n,
                     float* out) {
  constexpr size_t kWidth = Vec::kWidth, kWide = Vec::kValueVectors;
  alignas(64) float scaled[G][kValueChunk];  // this chunk's weights, times the positions' scales
  for (size_t p0 = 0; p0 < count; p0 += kValueChunk) {
    const size_t chunk = std::min(kValueChunk, count - p0);
    for (size_t j = 0; j < G; ++j) {
      for (size_t p = 0; p < chunk; ++p) scaled[j][p] = weights[j * stride + p0 + p] * (scales ? scales[p0 + p] : 1.0f);
    }
    const T* rows = values + p0 * n;
    const bool next_chunk = p0 + 2 * kValueChunk <= count;  // a whole next chunk to prefetch
    size_t i = 0;
    for (; i + kWide * kWidth <= n; i += kWide * kWidth) value_pass<Vec, G, kWide>(scaled, rows, chunk, next_chunk, i, n, out);
    for (; i + kWidth <= n; i += kWidth) value_pass<Vec, G, 1>(scaled, rows, chunk, next_chunk, i, n, out);
    for (; i < n; ++i) {  // dims past the last vector
      for (size_t j = 0; j < G; ++j) {
        float sum = out[j * n + i];
        for (size_t p = 0; p < chunk; ++p) sum += scaled[j][p] * to_float(rows[p * n + i]);
        out[j * n + i] = sum;
      }
    }
  }
}

template <FloatVector Vec, class T>
void value_sum(const float* weights, size_t stride, const T* values, const float* scales, size_t count, size_t group,
               size_t n, float* out) {
  size_t first = 0;
  for (; first + 4 <= group; first += 4) {
    value_sum_heads<Vec, 4>(weights + first * stride, stride, values, scales, count, n, out + first * n);
  }
  const size_t rest = group - first;
  const float* weights_rest = weights + first * stride;
  float* out_rest = out + first * n;
  if (rest == 3) value_sum_heads<Vec, 3>(weights_rest, stride, values, scales, count, n, out_rest);
  if (rest == 2) value_sum_heads<Vec, 2>(weights_rest, stride, values, scales, count, n, out_rest);
  if (rest == 1) value_sum_heads<Vec, 1>(weights_rest, stride, values, scales, count, n, out_rest);
}

}  // namespace
}  // namespace smoe::quant
