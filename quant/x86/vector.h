// Vector traits of the x86 float kernels: loads that widen a cache's or a weight row's element
// type (f32, f16, bf16, int8) to f32 lanes, multiply-adds and lane sums, on 256-bit
// (Avx2Vector) and 512-bit (Avx512Vector, where the including file is compiled with AVX-512)
// registers. The attention and float-row kernels use them through simd/float_vector.h's
// FloatVector (NEON's are in arm/vector.h); the x86 decoders (x86/dequantize.h) and int8 code
// use the byte conversions and maxima below as well.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "quant/formats/half.h"

namespace smoe::quant {

namespace {  // every including file gets its own copy, compiled with its own flags

struct Avx2Vector {
  using V = __m256;
  static constexpr size_t kWidth = 8;
  static constexpr size_t kPositions = 2;  // key rows per block: 2 x 4 accumulators of 16 registers
  static constexpr size_t kValueVectors = 2;  // value dims per pass: 4 heads x 2 accumulators
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V load(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static V load(const Bf16* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static __m128i load_bytes(const uint8_t* p) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)); }
  static V from_u8(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }  // kWidth bytes
  static V from_s8(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)); }
  static float reduce(V v) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    return _mm_cvtss_f32(_mm_add_ss(sum, _mm_movehdup_ps(sum)));
  }
  static float reduce_max(V v) {
    __m128 largest = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    largest = _mm_max_ps(largest, _mm_movehl_ps(largest, largest));
    return _mm_cvtss_f32(_mm_max_ss(largest, _mm_movehdup_ps(largest)));
  }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // Lane l of the result = the sum of a[l]'s lanes.
  static V sum_lanes(const V (&a)[8]) {
    const V low = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));   // per half: a0..a3
    const V high = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));  // per half: a4..a7
    return _mm256_add_ps(_mm256_permute2f128_ps(low, high, 0x20), _mm256_permute2f128_ps(low, high, 0x31));
  }
};

#ifdef __AVX512F__
struct Avx512Vector {
  using V = __m512;
  static constexpr size_t kWidth = 16;
  static constexpr size_t kPositions = 4;  // key rows per block: 4 x 4 accumulators of 32 registers
  static constexpr size_t kValueVectors = 4;  // value dims per pass: 4 heads x 4 accumulators
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static V load(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static V load(const Bf16* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static __m128i load_bytes(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static V from_u8(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)); }  // kWidth bytes
  static V from_s8(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)); }
  static float reduce(V v) { return _mm512_reduce_add_ps(v); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // Lane l of the result = the sum of a[l]'s lanes: 30 shuffles and 15 adds for 16 vectors.
  static V sum_lanes(const V (&a)[16]) {
    V quads[4];  // quads[g]: per 128-bit lane, partial sums of a[4g] .. a[4g + 3]
    for (size_t g = 0; g < 4; ++g) {
      const V ab = _mm512_add_ps(_mm512_unpacklo_ps(a[4 * g], a[4 * g + 1]), _mm512_unpackhi_ps(a[4 * g], a[4 * g + 1]));
      const V cd =
          _mm512_add_ps(_mm512_unpacklo_ps(a[4 * g + 2], a[4 * g + 3]), _mm512_unpackhi_ps(a[4 * g + 2], a[4 * g + 3]));
      quads[g] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))),
                               _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))));
    }
    const V q01 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[0], quads[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_f32x4(quads[0], quads[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const V q23 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2], quads[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_f32x4(quads[2], quads[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(q01, q23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(q01, q23, _MM_SHUFFLE(3, 1, 3, 1)));
  }
};
#endif

}  // namespace
}  // namespace smoe::quant
