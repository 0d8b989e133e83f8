// The attention kernels over a KV cache (f16, or int8 with one scale per position), written
// once over a vector-traits type and instantiated by kernels_avx2.cpp (Avx2Vector) and
// kernels_avx512.cpp (Avx512Vector) under their own flags. One KV head's positions are rows
// of n values, contiguous (the cache is head-major).
//
// Keys: each position's row is converted once for the (up to 4) query heads that share it;
// four heads' accumulators are reduced together (three hadds instead of four sums).
// Values: the output of 4 heads x 16 (or 32) dims stays in registers while a chunk of 64
// positions streams past (their rows stay in L1 for the next dims), instead of loading and
// storing the output once per position; each pass over a chunk prefetches the same columns
// of the next chunk.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "quant/half.h"

namespace smoe::quant {
namespace {  // every including file gets its own copy, compiled with its own flags

inline float to_float(uint16_t h) { return _cvtsh_ss(h); }
inline float to_float(int8_t v) { return float(v); }

// Cached rows are read once per token from DRAM, in order: ask for the row this many
// positions ahead (the hardware prefetchers restart at every 4 KiB page).
constexpr size_t kRowsAhead = 16;

template <class T>
inline void prefetch_row(const T* row, size_t n) {
  for (size_t byte = 0; byte < n * sizeof(T); byte += 64) _mm_prefetch(reinterpret_cast<const char*>(row) + byte, _MM_HINT_T0);
}

// Sums of four vectors' lanes: [sum(a), sum(b), sum(c), sum(d)].
inline __m128 sum_four(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 sums = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(sums), _mm256_extractf128_ps(sums, 1));
}

struct Avx2Vector {
  using V = __m256;
  static constexpr size_t kWidth = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V load(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static __m256 fold(V v) { return v; }  // to 8 lanes with the same sum
};

#ifdef __AVX512F__
struct Avx512Vector {
  using V = __m512;
  static constexpr size_t kWidth = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static V load(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __m256 fold(V v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  }
};
#endif

// scores[j * stride + p] = scale_p * sum_i key[p * n + i] * q[j * n + i] for G (1..4) heads;
// scale_p = scales[p], or 1 without scales.
template <class Vec, size_t G, class T>
void key_scores_heads(const T* keys, const float* scales, size_t count, const float* q, size_t n, float* scores,
                      size_t stride) {
  for (size_t p = 0; p < count; ++p) {
    const T* key = keys + p * n;
    if (p + kRowsAhead < count) prefetch_row(key + kRowsAhead * n, n);
    typename Vec::V totals[4] = {Vec::zero(), Vec::zero(), Vec::zero(), Vec::zero()};
    size_t i = 0;
    for (; i + Vec::kWidth <= n; i += Vec::kWidth) {
      const typename Vec::V k = Vec::load(key + i);
      for (size_t j = 0; j < G; ++j) totals[j] = Vec::fma(k, Vec::load(q + j * n + i), totals[j]);
    }
    alignas(16) float sums[4];
    _mm_store_ps(sums, sum_four(Vec::fold(totals[0]), Vec::fold(totals[1]), Vec::fold(totals[2]), Vec::fold(totals[3])));
    const float scale = scales ? scales[p] : 1.0f;
    for (size_t j = 0; j < G; ++j) {
      float sum = sums[j];
      for (size_t tail = i; tail < n; ++tail) sum += to_float(key[tail]) * q[j * n + tail];
      scores[j * stride + p] = sum * scale;
    }
  }
}

template <class Vec, class T>
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

// out[j * n + i] += sum_p weights[j * stride + p] * scale_p * value[p * n + i] for G (1..4) heads.
template <class Vec, size_t G, class T>
void value_sum_heads(const float* weights, size_t stride, const T* values, const float* scales, size_t count, size_t n,
                     float* out) {
  constexpr size_t kChunk = 64, kWidth = Vec::kWidth;
  alignas(64) float scaled[G][kChunk];  // this chunk's weights, times the positions' scales
  for (size_t p0 = 0; p0 < count; p0 += kChunk) {
    const size_t chunk = std::min(kChunk, count - p0);
    for (size_t j = 0; j < G; ++j) {
      for (size_t p = 0; p < chunk; ++p) scaled[j][p] = weights[j * stride + p0 + p] * (scales ? scales[p0 + p] : 1.0f);
    }
    const T* rows = values + p0 * n;
    size_t i = 0;
    for (; i + 2 * kWidth <= n; i += 2 * kWidth) {  // two vectors of dims per head in registers
      typename Vec::V sums[G][2];
      for (size_t j = 0; j < G; ++j) {
        sums[j][0] = Vec::load(out + j * n + i);
        sums[j][1] = Vec::load(out + j * n + i + kWidth);
      }
      for (size_t p = 0; p < chunk; ++p) {
        // The same columns of the next chunk's row: the next chunk's bytes arrive spread over
        // all the passes of this one, not all during its own first pass.
        if (p0 + kChunk + p < count) _mm_prefetch(reinterpret_cast<const char*>(rows + (kChunk + p) * n + i), _MM_HINT_T0);
        const typename Vec::V v0 = Vec::load(rows + p * n + i), v1 = Vec::load(rows + p * n + i + kWidth);
        for (size_t j = 0; j < G; ++j) {
          const typename Vec::V w = Vec::broadcast(&scaled[j][p]);
          sums[j][0] = Vec::fma(w, v0, sums[j][0]);
          sums[j][1] = Vec::fma(w, v1, sums[j][1]);
        }
      }
      for (size_t j = 0; j < G; ++j) {
        Vec::store(out + j * n + i, sums[j][0]);
        Vec::store(out + j * n + i + kWidth, sums[j][1]);
      }
    }
    for (; i < n; ++i) {  // dims past the last pair of vectors
      for (size_t j = 0; j < G; ++j) {
        float sum = out[j * n + i];
        for (size_t p = 0; p < chunk; ++p) sum += scaled[j][p] * to_float(rows[p * n + i]);
        out[j * n + i] = sum;
      }
    }
  }
}

template <class Vec, class T>
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
