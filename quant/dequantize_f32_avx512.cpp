// AVX-512 (F, BW, with F16C) decoders of q4k and q8 rows to f32, compiled with those flags and
// chosen only on CPUs that have them; the same values as the scalar references (dequantize_f32.h).
#include <immintrin.h>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/cpu_features.h"
#include "quant/dequantize_f32.h"
#include "quant/dequantize_x86.h"

namespace smoe::quant {
namespace {

void dequantize_q4k(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  for (size_t b = 0; b < n / 256; ++b) {
    q4k_block_values(blocks[b], [&](size_t at, __m512 values) { _mm512_storeu_ps(dst + 256 * b + at, values); });
  }
}

void dequantize_q8(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ8*>(src);
  for (size_t b = 0; b < n / 32; ++b) {
    q8_block_values(blocks[b], [&](size_t at, __m512 values) { _mm512_storeu_ps(dst + 32 * b + at, values); });
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
