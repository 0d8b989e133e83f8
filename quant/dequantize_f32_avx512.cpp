// AVX-512 (F, BW, with F16C) decoders of q4k and q8 rows to f32, compiled with those flags and
// chosen only on CPUs that have them; the same values as the scalar references (dequantize_f32.h).
#include <immintrin.h>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/cpu_features.h"
#include "quant/dequantize_f32.h"

namespace smoe::quant {
namespace {

inline __m512 bytes_to_float(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)); }

void dequantize_q4k(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  for (size_t b = 0; b < n / 256; ++b) {
    const BlockQ4K& block = blocks[b];
    const float d = _cvtsh_ss(block.d), dmin = _cvtsh_ss(block.dmin);
    uint8_t unpacked[16];
    q4k_unpack_scales(block.scales, unpacked);
    float* out = dst + 256 * b;
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
        _mm512_storeu_ps(out + 64 * chunk + 16 * half,
                         _mm512_sub_ps(_mm512_mul_ps(low_step, bytes_to_float(low)), low_offset));
        _mm512_storeu_ps(out + 64 * chunk + 32 + 16 * half,
                         _mm512_sub_ps(_mm512_mul_ps(high_step, bytes_to_float(high)), high_offset));
      }
    }
  }
}

void dequantize_q8(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ8*>(src);
  for (size_t b = 0; b < n / 32; ++b) {
    const __m512 scale = _mm512_set1_ps(_cvtsh_ss(blocks[b].d));
    const __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs));
    _mm512_storeu_ps(dst + 32 * b,
                     _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(values)))));
    _mm512_storeu_ps(
        dst + 32 * b + 16,
        _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(values, 1)))));
  }
}

}  // namespace

DequantizeF32Fn avx512_dequantize_f32(TensorType type) {
  const CpuFeatures& cpu = cpu_features();
  if (!cpu.avx512f || !cpu.avx512bw || !cpu.f16c) return nullptr;
  switch (type) {
    case TensorType::q4k:
      return dequantize_q4k;
    case TensorType::q8:
      return dequantize_q8;
    default:
      return nullptr;
  }
}

}  // namespace smoe::quant
