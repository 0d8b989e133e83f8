// AArch64 kernels shared between the NEON tables: the dot-product loops, written once over the
// 32-byte signed dot primitive (baseline NEON in kernels_neon.cpp; SDOT in
// kernels_neon_dotprod.cpp, compiled with +dotprod and chosen only when the CPU has it). Each
// sums the same integers as its scalar reference and applies the block scales in the same
// order, so results match the references exactly.
#pragma once

#include <arm_neon.h>

#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/block_q8a.h"
#include "quant/formats/half.h"

namespace smoe::quant {

// Sum of 32 products of signed bytes: w (two halves) x a (two halves).
using Dot32 = int32_t (*)(int8x16_t w0, int8x16_t w1, int8x16_t a0, int8x16_t a1);

template <Dot32 dot32>
float neon_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / 32; ++b) {
    const int32_t dot = dot32(vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs), vld1q_s8(a[b].qs + 16));
    total += f16_to_f32(w[b].d) * a[b].d * float(dot);
  }
  return total;
}

template <Dot32 dot32>
float neon_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
  float total = 0.0f;
  for (size_t b = 0; b < n / 32; ++b) {
    const uint8x16_t packed = vld1q_u8(w[b].qs);
    const int32_t dot = dot32(vreinterpretq_s8_u8(vandq_u8(packed, low_nibbles)), vreinterpretq_s8_u8(vshrq_n_u8(packed, 4)),
                              vld1q_s8(a[b].qs), vld1q_s8(a[b].qs + 16));
    total += a[b].d * (f16_to_f32(w[b].d) * float(dot) + f16_to_f32(w[b].m) * float(a[b].sum));
  }
  return total;
}

template <Dot32 dot32>
float neon_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
  float total = 0.0f;
  for (size_t b = 0; b < n / 256; ++b) {
    uint8_t unpacked[16];  // 8 scales, 8 minimums
    q4k_unpack_scales(w[b].scales, unpacked);
    int32_t scaled_dot = 0, scaled_minimum = 0;
    for (size_t chunk = 0; chunk < 4; ++chunk) {
      const uint8x16_t packed0 = vld1q_u8(w[b].qs + 32 * chunk), packed1 = vld1q_u8(w[b].qs + 32 * chunk + 16);
      const int8_t* activations = a[b].qs + 64 * chunk;
      const int32_t low = dot32(vreinterpretq_s8_u8(vandq_u8(packed0, low_nibbles)),
                                vreinterpretq_s8_u8(vandq_u8(packed1, low_nibbles)), vld1q_s8(activations),
                                vld1q_s8(activations + 16));
      const int32_t high = dot32(vreinterpretq_s8_u8(vshrq_n_u8(packed0, 4)), vreinterpretq_s8_u8(vshrq_n_u8(packed1, 4)),
                                 vld1q_s8(activations + 32), vld1q_s8(activations + 48));
      scaled_dot += int32_t(unpacked[2 * chunk]) * low + int32_t(unpacked[2 * chunk + 1]) * high;
    }
    for (size_t j = 0; j < 8; ++j) scaled_minimum += int32_t(unpacked[8 + j]) * a[b].sums[j];
    total += a[b].d * (f16_to_f32(w[b].d) * float(scaled_dot) - f16_to_f32(w[b].dmin) * float(scaled_minimum));
  }
  return total;
}

float neon_dotprod_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n);
float neon_dotprod_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n);
float neon_dotprod_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n);
void neon_dotprod_dot_q4k_x8(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out);
void neon_dotprod_dot_q8_x8(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out);

}  // namespace smoe::quant
