// AArch64 kernels with the dot-product extension (SDOT: four int8 products summed into each
// int32 lane), compiled with -march=armv8.2-a+dotprod and chosen only on CPUs with
// HWCAP_ASIMDDP. The loops are kernels_neon.h's, over this file's dot primitive.
#include <utility>

#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/arm/kernels_neon.h"

namespace smoe::quant {
namespace {

int32_t dot32_sdot(int8x16_t w0, int8x16_t w1, int8x16_t a0, int8x16_t a1) {
  return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, a0), w1, a1));
}

// Group G (< 8) of a q4k_x8 chunk: 16 bytes for rows 0..3 and 16 for rows 4..7, 4 nibble pairs a
// row; SDOT by lane multiplies each row's 4 weights by the same 4 activations (lane G % 4 of a
// 16-byte load) into the row's int32 lane. The lane is an immediate: one instance per group.
template <int G>
inline void q4k_x8_group(const uint8_t* qs, const int8x16_t* a_low, const int8x16_t* a_high, int32x4_t* low,
                         int32x4_t* high) {
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0f);
  for (int half = 0; half < 2; ++half) {
    const uint8x16_t packed = vld1q_u8(qs + 32 * G + 16 * half);
    low[half] = vdotq_laneq_s32(low[half], vreinterpretq_s8_u8(vandq_u8(packed, low_nibbles)), a_low[G / 4], G % 4);
    high[half] = vdotq_laneq_s32(high[half], vreinterpretq_s8_u8(vshrq_n_u8(packed, 4)), a_high[G / 4], G % 4);
  }
}

// Group G (< 8) of a q8_x8 block: 16 bytes for rows 0..3 and 16 for rows 4..7, 4 weights a row,
// times activations 4G..4G + 3 (lane G % 4 of their 16-byte half G / 4) by SDOT by lane.
template <int G>
inline void q8_x8_group(const int8_t* qs, const int8x16_t* activations, int32x4_t* sums) {
  for (int half = 0; half < 2; ++half) {
    sums[half] = vdotq_laneq_s32(sums[half], vld1q_s8(qs + 32 * G + 16 * half), activations[G / 4], G % 4);
  }
}

}  // namespace

// Eight interleaved q8 rows (block_q8_x8.h): the eight rows' integer sums of a block in two
// vectors by SDOT by lane, then each row's float arithmetic in dot_q8_x8_q8a_ref's order.
void neon_dotprod_dot_q8_x8(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out) {
  for (size_t r = 0; r < 8; ++r) out[r] = 0.0f;
  for (size_t b = 0; b < n / BlockQ8x8::kElements; ++b) {
    const int8x16_t activations[2] = {vld1q_s8(a[b].qs), vld1q_s8(a[b].qs + 16)};
    int32x4_t sums[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    [&]<int... G>(std::integer_sequence<int, G...>) {
      (q8_x8_group<G>(w[b].qs, activations, sums), ...);
    }(std::make_integer_sequence<int, 8>{});
    int32_t dots[8];
    vst1q_s32(dots, sums[0]);
    vst1q_s32(dots + 4, sums[1]);
    for (size_t r = 0; r < 8; ++r) out[r] += f16_to_f32(w[b].d[r]) * a[b].d * float(dots[r]);
  }
}

// Eight interleaved q4k rows (block_q4k_x8.h): per 64-weight chunk two int32 vectors a sub-block
// (rows 0..3, 4..7) filled by SDOT by lane, scaled per row; the minimum terms and the block's
// float arithmetic row by row in dot_q4k_x8_q8k_ref's order (the same floats: exact integers).
void neon_dotprod_dot_q4k_x8(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out) {
  for (size_t r = 0; r < 8; ++r) out[r] = 0.0f;
  for (size_t b = 0; b < n / BlockQ4Kx8::kElements; ++b) {
    uint8_t scales[64], minimums[64];
    q4k_x8_unpack_scales(w[b], scales, minimums);
    const auto row_scales = [&](size_t j, int half) {  // sub-block j's scales of rows 4 half .. 4 half + 3
      return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vld1_u8(scales + 8 * j + 4 * half)))));
    };
    int32x4_t scaled[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    for (size_t c = 0; c < 4; ++c) {
      const int8_t* activations = a[b].qs + 64 * c;
      const int8x16_t a_low[2] = {vld1q_s8(activations), vld1q_s8(activations + 16)};
      const int8x16_t a_high[2] = {vld1q_s8(activations + 32), vld1q_s8(activations + 48)};
      int32x4_t low[2] = {vdupq_n_s32(0), vdupq_n_s32(0)}, high[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
      const uint8_t* qs = w[b].qs + 256 * c;
      [&]<int... G>(std::integer_sequence<int, G...>) {
        (q4k_x8_group<G>(qs, a_low, a_high, low, high), ...);
      }(std::make_integer_sequence<int, 8>{});
      for (int half = 0; half < 2; ++half) {
        scaled[half] = vmlaq_s32(scaled[half], low[half], row_scales(2 * c, half));
        scaled[half] = vmlaq_s32(scaled[half], high[half], row_scales(2 * c + 1, half));
      }
    }
    int32_t scaled_dot[8];
    vst1q_s32(scaled_dot, scaled[0]);
    vst1q_s32(scaled_dot + 4, scaled[1]);
    for (size_t r = 0; r < 8; ++r) {
      int32_t scaled_minimum = 0;
      for (size_t j = 0; j < 8; ++j) scaled_minimum += int32_t(minimums[q4k_x8_minimum_index(j, r)]) * a[b].sums[j];
      out[r] += a[b].d * (f16_to_f32(w[b].d[r]) * float(scaled_dot[r]) -
                          f16_to_f32(w[b].dmin[r]) * float(scaled_minimum));
    }
  }
}

float neon_dotprod_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) { return neon_dot_q8<dot32_sdot>(w, a, n); }
float neon_dotprod_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) { return neon_dot_q4<dot32_sdot>(w, a, n); }
float neon_dotprod_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) { return neon_dot_q4k<dot32_sdot>(w, a, n); }

}  // namespace smoe::quant
