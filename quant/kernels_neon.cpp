// AArch64 NEON kernels (baseline Armv8-A; the integer dot products use SDOT where the CPU has
// the dot-product extension, from kernels_neon_dotprod.cpp). Each integer dot product sums the
// same integers as its scalar reference and applies the block scales in the same order, so
// results match the references exactly. q6k, q3k and the activation quantizers use the
// references (they are not on the default recipe's hot path).
#include <arm_neon.h>
#include <sys/auxv.h>

#include "quant/dequantize_bf16.h"
#include "quant/half.h"
#include "quant/kernels.h"
#include "quant/kernels_neon.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

namespace smoe::quant {
namespace {

// sum of 32 products of signed bytes (baseline NEON: widening multiply, pairwise add).
inline int32_t dot32_s8(int8x16_t w0, int8x16_t w1, int8x16_t a0, int8x16_t a1) {
  int16x8_t p0 = vmull_s8(vget_low_s8(w0), vget_low_s8(a0));
  p0 = vmlal_s8(p0, vget_high_s8(w0), vget_high_s8(a0));
  int16x8_t p1 = vmull_s8(vget_low_s8(w1), vget_low_s8(a1));
  p1 = vmlal_s8(p1, vget_high_s8(w1), vget_high_s8(a1));
  return vaddvq_s32(vpadalq_s16(vpaddlq_s16(p0), p1));
}

float dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / 32; ++b) {
    const int32_t dot = dot32_s8(vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs), vld1q_s8(a[b].qs + 16));
    total += f16_to_f32(w[b].d) * a[b].d * float(dot);
  }
  return total;
}

float dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
  float total = 0.0f;
  for (size_t b = 0; b < n / 32; ++b) {
    const uint8x16_t packed = vld1q_u8(w[b].qs);
    const int8x16_t first = vreinterpretq_s8_u8(vandq_u8(packed, low_nibbles));  // weights 0..15
    const int8x16_t second = vreinterpretq_s8_u8(vshrq_n_u8(packed, 4));         // weights 16..31
    const int32_t dot = dot32_s8(first, second, vld1q_s8(a[b].qs), vld1q_s8(a[b].qs + 16));
    total += a[b].d * (f16_to_f32(w[b].d) * float(dot) + f16_to_f32(w[b].m) * float(a[b].sum));
  }
  return total;
}

float dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
  float total = 0.0f;
  for (size_t b = 0; b < n / 256; ++b) {
    uint8_t unpacked[16];  // 8 scales, 8 minimums
    q4k_unpack_scales(w[b].scales, unpacked);
    int32_t scaled_dot = 0, scaled_minimum = 0;
    for (size_t chunk = 0; chunk < 4; ++chunk) {
      const uint8x16_t packed0 = vld1q_u8(w[b].qs + 32 * chunk), packed1 = vld1q_u8(w[b].qs + 32 * chunk + 16);
      const int8_t* activations = a[b].qs + 64 * chunk;
      const int32_t low = dot32_s8(vreinterpretq_s8_u8(vandq_u8(packed0, low_nibbles)),
                                   vreinterpretq_s8_u8(vandq_u8(packed1, low_nibbles)), vld1q_s8(activations),
                                   vld1q_s8(activations + 16));
      const int32_t high = dot32_s8(vreinterpretq_s8_u8(vshrq_n_u8(packed0, 4)), vreinterpretq_s8_u8(vshrq_n_u8(packed1, 4)),
                                    vld1q_s8(activations + 32), vld1q_s8(activations + 48));
      scaled_dot += int32_t(unpacked[2 * chunk]) * low + int32_t(unpacked[2 * chunk + 1]) * high;
    }
    for (size_t j = 0; j < 8; ++j) scaled_minimum += int32_t(unpacked[8 + j]) * a[b].sums[j];
    total += a[b].d * (f16_to_f32(w[b].d) * float(scaled_dot) - f16_to_f32(w[b].dmin) * float(scaled_minimum));
  }
  return total;
}

void dot_f16_group(const uint16_t* k, const float* q, size_t group, size_t n, float* out) {
  for (size_t j = 0; j < group; ++j) {
    float32x4_t total = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const float32x4_t keys = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(k + i)));
      total = vfmaq_f32(total, keys, vld1q_f32(q + j * n + i));
    }
    float sum = vaddvq_f32(total);
    for (; i < n; ++i) sum += f16_to_f32(k[i]) * q[j * n + i];
    out[j] = sum;
  }
}

void axpy_f16_group(const float* weights, const uint16_t* v, float* y, size_t group, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t values = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(v + i)));
    for (size_t j = 0; j < group; ++j) {
      float* out = y + j * n + i;
      vst1q_f32(out, vfmaq_n_f32(vld1q_f32(out), values, weights[j]));
    }
  }
  for (; i < n; ++i) {
    for (size_t j = 0; j < group; ++j) y[j * n + i] += weights[j] * f16_to_f32(v[i]);
  }
}

}  // namespace

const Kernels* neon_kernels() {
  static const Kernels kernels{"neon",          quantize_row_q8a_ref, quantize_row_q8k_ref, dot_q8,
                                dot_q4,          dot_q4k,              dot_q6k_q8k_ref,      dot_q3k_q8k_ref,
                                dot_f16_group,   axpy_f16_group,       dot_i8_group_ref,     axpy_i8_group_ref};
  return &kernels;
}

const Kernels* neon_dotprod_kernels() {
  static const Kernels kernels{"neon-dotprod", quantize_row_q8a_ref, quantize_row_q8k_ref, neon_dotprod_dot_q8,
                                    neon_dotprod_dot_q4, neon_dotprod_dot_q4k, dot_q6k_q8k_ref, dot_q3k_q8k_ref,
                                    dot_f16_group,   axpy_f16_group,       dot_i8_group_ref,     axpy_i8_group_ref};
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? &kernels : nullptr;
}

const Kernels* avx2_kernels() { return nullptr; }
const Kernels* avx512_kernels() { return nullptr; }
DequantizeBf16Fn avx512_dequantize_bf16(TensorType) { return nullptr; }

}  // namespace smoe::quant
