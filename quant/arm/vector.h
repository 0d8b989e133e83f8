// Vector traits of the AArch64 float kernels (baseline Armv8-A NEON, 128-bit registers): the
// FloatVector of simd/float_vector.h, over which the attention (simd/attention.h) and
// float-row (simd/float_dot.h) kernels are written once for every architecture.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "quant/formats/half.h"

namespace smoe::quant {
namespace {  // every including file gets its own copy, compiled with its own flags

struct NeonVector {
  using V = float32x4_t;
  static constexpr size_t kWidth = 4;
  static constexpr size_t kPositions = 1;     // key rows per block: 4 heads x 1 position fill 4 lanes
  static constexpr size_t kValueVectors = 4;  // value dims per pass: 4 heads x 4 accumulators of 32 registers
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float* p) { return vld1q_f32(p); }
  static V load(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static V load(const int8_t* p) {
    int32_t bytes;  // exactly 4 bytes: vld1_s8 would read 8, past the end of a row
    std::memcpy(&bytes, p, sizeof(bytes));
    const int16x8_t wide = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(bytes)));
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
  }
  // bf16 is the upper half of an f32: a 16-bit left shift while widening.
  static V load(const Bf16* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16)); }
  static V broadcast(const float* p) { return vld1q_dup_f32(p); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static float reduce(V v) { return vaddvq_f32(v); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  // Lane l of the result = the sum of a[l]'s lanes (two rounds of pairwise adds).
  static V sum_lanes(const V (&a)[4]) { return vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3])); }
};

}  // namespace
}  // namespace smoe::quant
