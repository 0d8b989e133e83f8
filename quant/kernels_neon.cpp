// AArch64 NEON kernel tables (baseline Armv8-A, and with SDOT where the CPU has the
// dot-product extension; the shared loops are in kernels_neon.h). q6k, q3k and the activation
// quantizers use the scalar references (they are not on the default recipe's hot path).
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

// Sum of 32 products of signed bytes (baseline NEON: widening multiply, pairwise add).
int32_t dot32_s8(int8x16_t w0, int8x16_t w1, int8x16_t a0, int8x16_t a1) {
  int16x8_t p0 = vmull_s8(vget_low_s8(w0), vget_low_s8(a0));
  p0 = vmlal_s8(p0, vget_high_s8(w0), vget_high_s8(a0));
  int16x8_t p1 = vmull_s8(vget_low_s8(w1), vget_low_s8(a1));
  p1 = vmlal_s8(p1, vget_high_s8(w1), vget_high_s8(a1));
  return vaddvq_s32(vpadalq_s16(vpaddlq_s16(p0), p1));
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
  static const Kernels kernels{"neon",          quantize_row_q8a_ref, quantize_row_q8k_ref, neon_dot_q8<dot32_s8>,
                                neon_dot_q4<dot32_s8>, neon_dot_q4k<dot32_s8>,              dot_q6k_q8k_ref,      dot_q3k_q8k_ref,
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
const Kernels* avx512_vnni_kernels() { return nullptr; }
DequantizeBf16Fn avx512_dequantize_bf16(TensorType) { return nullptr; }

}  // namespace smoe::quant
