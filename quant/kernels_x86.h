// x86 kernels shared between the per-ISA tables (defined in kernels_avx2.cpp, compiled with
// AVX2 flags; the AVX-512 table reuses them, every AVX-512 CPU has AVX2).
#pragma once

#include <immintrin.h>

#include "quant/block_q8a.h"

namespace smoe::quant {

void avx2_quantize_q8a(const float* x, BlockQ8A* out, size_t n);
void avx2_quantize_q8k(const float* x, BlockQ8K* out, size_t n);
float avx2_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n);
float avx2_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n);
float avx2_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n);
float avx2_dot_q6k(const BlockQ6K* w, const BlockQ8K* a, size_t n);
float avx2_dot_q3k(const BlockQ3K* w, const BlockQ8K* a, size_t n);
void avx2_dot_f16_group(const uint16_t* k, const float* q, size_t group, size_t n, float* out);
void avx2_axpy_f16_group(const float* weights, const uint16_t* v, float* y, size_t group, size_t n);
void avx2_dot_i8_group(const int8_t* k, const float* q, size_t group, size_t n, float* out);
void avx2_axpy_i8_group(const float* weights, const int8_t* v, float* y, size_t group, size_t n);

// Software prefetch of weight bytes this far ahead of the current block. Decoding streams each
// weight once from DRAM through 4 KiB pages, where the hardware prefetchers restart at every
// page boundary; asking ~2 KiB ahead measured 1.65x faster q4k decode on one core
// (docs/PERFORMANCE.md). Prefetching past the end of a row is harmless (no faults).
inline constexpr size_t kPrefetchBytes = 2048;

// Prefetches the `lines` cache lines at `p` + kPrefetchBytes.
inline void prefetch_ahead(const void* p, int lines) {
  for (int line = 0; line < lines; ++line) {
    _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes + 64 * line, _MM_HINT_T0);
  }
}

// Unpacks a q4k block's 6-bit scales and minimums into out[0..7] and out[8..15] and returns
// sum_j m_j * activation_sum_j (eight 16-bit products at once). Included only by files
// compiled with at least AVX2 flags.
inline int32_t q4k_unpack_and_minimum_term(const BlockQ4K& w, const BlockQ8K& a, uint8_t* out) {
  q4k_unpack_scales(w.scales, out);
  const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(out + 8)));
  __m128i products = _mm_madd_epi16(mins16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.sums)));
  products = _mm_add_epi32(products, _mm_shuffle_epi32(products, 0x4e));
  products = _mm_add_epi32(products, _mm_shuffle_epi32(products, 0xb1));
  return _mm_cvtsi128_si32(products);
}

}  // namespace smoe::quant
