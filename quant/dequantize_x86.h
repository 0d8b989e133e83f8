// The AVX-512 decoding of q4k and q8 blocks to f32, shared by the f32 and bf16 row decoders
// (dequantize_f32_avx512.cpp, dequantize_bf16_avx512.cpp), which differ only in how they store
// each 16 values. Each value is computed as the scalar reference computes it (multiply, then
// subtract: no fused multiply-add). Include only from files compiled with AVX-512 F and BW.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"

namespace smoe::quant {

// File-local to each includer: the two files are compiled with different flags (see
// kernels_x86.h for why a shared definition would be a hazard).
namespace {

inline __m512 bytes_to_float(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)); }

// store(offset, values): the block's 256 values, 16 at a time, offset within the block.
template <class Store>
inline void q4k_block_values(const BlockQ4K& block, Store store) {
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  const float d = _cvtsh_ss(block.d), dmin = _cvtsh_ss(block.dmin);
  uint8_t unpacked[16];
  q4k_unpack_scales(block.scales, unpacked);
  for (size_t chunk = 0; chunk < 4; ++chunk) {
    // Chunk c: low nibbles are sub-block 2c (weights 64c + 0..31), high nibbles 2c + 1.
    const __m512 low_step = _mm512_set1_ps(d * float(unpacked[2 * chunk]));
    const __m512 low_offset = _mm512_set1_ps(dmin * float(unpacked[8 + 2 * chunk]));
    const __m512 high_step = _mm512_set1_ps(d * float(unpacked[2 * chunk + 1]));
    const __m512 high_offset = _mm512_set1_ps(dmin * float(unpacked[8 + 2 * chunk + 1]));
    for (size_t half = 0; half < 2; ++half) {
      const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs + 32 * chunk + 16 * half));
      const __m128i low = _mm_and_si128(packed, low_nibbles);
      const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibbles);
      store(64 * chunk + 16 * half, _mm512_sub_ps(_mm512_mul_ps(low_step, bytes_to_float(low)), low_offset));
      store(64 * chunk + 32 + 16 * half, _mm512_sub_ps(_mm512_mul_ps(high_step, bytes_to_float(high)), high_offset));
    }
  }
}

// store(offset, values) for the block's 32 values, 16 at a time.
template <class Store>
inline void q8_block_values(const BlockQ8& block, Store store) {
  const __m512 scale = _mm512_set1_ps(_cvtsh_ss(block.d));
  const __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs));
  store(0, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(values)))));
  store(16, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(values, 1)))));
}

}  // namespace
}  // namespace smoe::quant
