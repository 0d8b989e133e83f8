// AVX-512 (F, BW, VL, BF16) decoders of q4k and q8 rows to bf16, compiled with those flags and
// chosen only on CPUs that have them. Each f32 value is computed exactly as the scalar
// reference computes it (multiply, then subtract: no fused multiply-add) and rounded to
// nearest-even bf16 by vcvtne2ps2bf16, so the bits match dequantize_row_bf16_ref for every
// normal value (the instruction treats f32 denormals as zero).
#include <immintrin.h>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/dequantize_bf16.h"

namespace smoe::quant {
namespace {

// 32 f32 values (two registers) -> 32 bf16 at `out`.
inline void store_bf16(uint16_t* out, __m512 first, __m512 second) {
  _mm512_storeu_si512(out, (__m512i)_mm512_cvtne2ps_pbh(second, first));
}

inline __m512 bytes_to_float(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)); }

void dequantize_q4k(const void* src, uint16_t* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  for (size_t b = 0; b < n / 256; ++b) {
    const BlockQ4K& block = blocks[b];
    const float d = _cvtsh_ss(block.d), dmin = _cvtsh_ss(block.dmin);
    uint8_t unpacked[16];
    q4k_unpack_scales(block.scales, unpacked);
    uint16_t* out = dst + 256 * b;
    for (size_t chunk = 0; chunk < 4; ++chunk) {
      for (size_t half = 0; half < 2; ++half) {  // 16 bytes: weights l = 16 half .. 16 half + 15
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs + 32 * chunk + 16 * half));
        const __m128i low = _mm_and_si128(packed, low_nibbles);
        const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibbles);
        const size_t low_sub = 2 * chunk, high_sub = 2 * chunk + 1;
        const __m512 low_values = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d * float(unpacked[low_sub])), bytes_to_float(low)),
                                                _mm512_set1_ps(dmin * float(unpacked[8 + low_sub])));
        const __m512 high_values = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d * float(unpacked[high_sub])), bytes_to_float(high)),
                                                 _mm512_set1_ps(dmin * float(unpacked[8 + high_sub])));
        // Output positions: low nibbles are weights 64c + 16h + (0..15), high ones 64c + 32 + 16h + (0..15).
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * chunk + 16 * half), (__m256i)_mm512_cvtneps_pbh(low_values));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * chunk + 32 + 16 * half),
                            (__m256i)_mm512_cvtneps_pbh(high_values));
      }
    }
  }
}

void dequantize_q8(const void* src, uint16_t* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ8*>(src);
  for (size_t b = 0; b < n / 32; ++b) {
    const __m512 scale = _mm512_set1_ps(_cvtsh_ss(blocks[b].d));
    const __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs));
    const __m512 first = _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(values))));
    const __m512 second = _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(values, 1))));
    store_bf16(dst + 32 * b, first, second);
  }
}

}  // namespace

DequantizeBf16Fn avx512_dequantize_bf16(TensorType type) {
  switch (type) {
    case TensorType::q4k: return dequantize_q4k;
    case TensorType::q8: return dequantize_q8;
    default: return nullptr;
  }
}

}  // namespace smoe::quant
