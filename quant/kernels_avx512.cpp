// The "avx512" table (AVX-512 F, BW, VL): 512-bit attention kernels (attention_x86.h), and the
// AVX2 weight dot products, which measured faster than
// 512-bit versions without VNNI on both hosts we have (q4k 10-20% on Zen 4; q8 25.4 against
// 27.7 GB/s in cache on Sapphire Rapids, where 512-bit multiplies issue on one port and 256-bit
// ones on two). The table still exists apart from "avx2": AVX-512 CPUs get the bf16 prompt
// path (dequantize_bf16_avx512.cpp) and, with VNNI, the avx512-vnni table built on this one.
#include "quant/attention_x86.h"
#include "quant/cpu_features.h"
#include "quant/kernels.h"
#include "quant/kernels_x86.h"

namespace smoe::quant {
namespace {

void key_scores_f16(const uint16_t* keys, size_t count, const float* q, size_t group, size_t n, float* scores,
                    size_t stride) {
  key_scores<Avx512Vector>(keys, nullptr, count, q, group, n, scores, stride);
}

void value_sum_f16(const float* weights, size_t stride, const uint16_t* values, size_t count, size_t group, size_t n,
                   float* out) {
  value_sum<Avx512Vector>(weights, stride, values, nullptr, count, group, n, out);
}

void key_scores_i8(const int8_t* keys, const float* scales, size_t count, const float* q, size_t group, size_t n,
                   float* scores, size_t stride) {
  key_scores<Avx512Vector>(keys, scales, count, q, group, n, scores, stride);
}

void value_sum_i8(const float* weights, size_t stride, const int8_t* values, const float* scales, size_t count,
                  size_t group, size_t n, float* out) {
  value_sum<Avx512Vector>(weights, stride, values, scales, count, group, n, out);
}

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels{"avx512",      avx2_quantize_q8a, avx2_quantize_q8k,  avx2_dot_q8,
                               avx2_dot_q4,   avx2_dot_q4k,      avx2_dot_q6k,       avx2_dot_q3k,
                               key_scores_f16,     value_sum_f16,       key_scores_i8,      value_sum_i8};
  const CpuFeatures& cpu = cpu_features();
  const bool supported = cpu.avx512f && cpu.avx512bw && cpu.avx512vl && avx2_kernels() != nullptr;
  return supported ? &kernels : nullptr;
}

}  // namespace smoe::quant
