// AVX2 (with F16C) decoders of q4k and q8 rows to f32, for the int8 prompt path on CPUs with
// AVX-VNNI and no AVX-512 (compiled with -mavx2 -mf16c and no -mfma, so that GCC cannot fuse the
// multiply and the subtraction: the values are the scalar references', bit for bit).
#include <immintrin.h>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/cpu_features.h"
#include "quant/dequantize_f32.h"

namespace smoe::quant {
namespace {

inline __m256 bytes_to_float(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }

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
      const __m256 low_step = _mm256_set1_ps(d * float(unpacked[2 * chunk]));
      const __m256 low_offset = _mm256_set1_ps(dmin * float(unpacked[8 + 2 * chunk]));
      const __m256 high_step = _mm256_set1_ps(d * float(unpacked[2 * chunk + 1]));
      const __m256 high_offset = _mm256_set1_ps(dmin * float(unpacked[8 + 2 * chunk + 1]));
      for (size_t eighth = 0; eighth < 4; ++eighth) {
        const __m128i packed = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block.qs + 32 * chunk + 8 * eighth));
        const __m128i low = _mm_and_si128(packed, low_nibbles);
        const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibbles);
        _mm256_storeu_ps(out + 64 * chunk + 8 * eighth,
                         _mm256_sub_ps(_mm256_mul_ps(low_step, bytes_to_float(low)), low_offset));
        _mm256_storeu_ps(out + 64 * chunk + 32 + 8 * eighth,
                         _mm256_sub_ps(_mm256_mul_ps(high_step, bytes_to_float(high)), high_offset));
      }
    }
  }
}

void dequantize_q8(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ8*>(src);
  for (size_t b = 0; b < n / 32; ++b) {
    const __m256 scale = _mm256_set1_ps(_cvtsh_ss(blocks[b].d));
    for (size_t eighth = 0; eighth < 4; ++eighth) {
      const __m128i values = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[b].qs + 8 * eighth));
      _mm256_storeu_ps(dst + 32 * b + 8 * eighth,
                       _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(values))));
    }
  }
}

}  // namespace

DequantizeF32Fn avx2_dequantize_f32(TensorType type) {
  const CpuFeatures& cpu = cpu_features();
  if (!cpu.avx2 || !cpu.f16c) return nullptr;
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
