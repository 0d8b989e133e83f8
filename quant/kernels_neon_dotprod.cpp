// AArch64 kernels with the dot-product extension (SDOT: four int8 products summed into each
// int32 lane), compiled with -march=armv8.2-a+dotprod and chosen only on CPUs with
// HWCAP_ASIMDDP. Same integer sums and scale order as the scalar references.
#include <arm_neon.h>

#include "quant/half.h"
#include "quant/kernels_neon.h"

namespace smoe::quant {
namespace {

inline int32_t dot32(int8x16_t w0, int8x16_t w1, int8x16_t a0, int8x16_t a1) {
  return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, a0), w1, a1));
}

}  // namespace

float neon_dotprod_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / 32; ++b) {
    const int32_t dot = dot32(vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs), vld1q_s8(a[b].qs + 16));
    total += f16_to_f32(w[b].d) * a[b].d * float(dot);
  }
  return total;
}

float neon_dotprod_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) {
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

float neon_dotprod_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
  float total = 0.0f;
  for (size_t b = 0; b < n / 256; ++b) {
    uint8_t unpacked[16];
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

}  // namespace smoe::quant
