// AVX-512 (F, BW, VL, BF16) decoders of q4k and q8 rows to bf16, compiled with those flags and
// chosen only on CPUs that have them. Each f32 value is computed exactly as the scalar
// reference computes it (multiply, then subtract: no fused multiply-add) and rounded to
// nearest-even bf16 by vcvtneps2bf16, so the bits match dequantize_row_bf16_ref for every
// normal value (the instruction treats f32 denormals as zero).
#include <immintrin.h>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/dequantize_bf16.h"
#include "quant/dequantize_x86.h"

namespace smoe::quant {
namespace {

inline void store_bf16(uint16_t* out, __m512 values) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), (__m256i)_mm512_cvtneps_pbh(values));
}

void dequantize_q4k(const void* src, uint16_t* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  for (size_t b = 0; b < n / 256; ++b) {
    q4k_block_values<Avx512Vector>(blocks[b],
                                   [&](size_t at, __m512 values) { store_bf16(dst + 256 * b + at, values); });
  }
}

void dequantize_q8(const void* src, uint16_t* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ8*>(src);
  for (size_t b = 0; b < n / 32; ++b) {
    q8_block_values<Avx512Vector>(blocks[b], [&](size_t at, __m512 values) { store_bf16(dst + 32 * b + at, values); });
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
