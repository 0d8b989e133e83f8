// AArch64 NEON kernel tables (baseline Armv8-A, and with SDOT where the CPU has the
// dot-product extension; the shared loops are in kernels_neon.h). q6k, q3k and the activation
// quantizers use the scalar references (they are not on the default recipe's hot path).
#include <arm_neon.h>
#include <sys/auxv.h>

#include "quant/arm/kernels_neon.h"
#include "quant/dequantize_bf16.h"
#include "quant/formats/half.h"
#include "quant/formats/untyped_kernels.h"
#include "quant/kernels.h"

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

inline float32x4_t load4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t load4(const int8_t* p) {
  // 4 bytes -> 4 floats (vld1_s8 reads 8: callers stop kReach before the row's end).
  const int16x8_t wide = vmovl_s8(vld1_s8(p));
  return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
}
// Elements a load4 reads (8 for int8 rows).
template <class T>
constexpr size_t kReach = sizeof(T) == 1 ? 8 : 4;
inline float to_float(uint16_t h) { return f16_to_f32(h); }
inline float to_float(int8_t v) { return float(v); }

// scores[j * stride + p] = scale_p * key[p] . q[j]: each key row converted once for all heads.
template <class T>
void key_scores(const T* keys, const float* scales, size_t count, const float* q, size_t group, size_t n, float* scores,
                size_t stride) {
  for (size_t p = 0; p < count; ++p) {
    const T* key = keys + p * n;
    for (size_t j = 0; j < group; ++j) {
      float32x4_t total = vdupq_n_f32(0.0f);
      size_t i = 0;
      for (; i + kReach<T> <= n; i += 4) total = vfmaq_f32(total, load4(key + i), vld1q_f32(q + j * n + i));
      float sum = vaddvq_f32(total);
      for (; i < n; ++i) sum += to_float(key[i]) * q[j * n + i];
      scores[j * stride + p] = sum * (scales ? scales[p] : 1.0f);
    }
  }
}

// out[j * n + i] += sum_p weights[j * stride + p] * scale_p * value[p][i].
template <class T>
void value_sum(const float* weights, size_t stride, const T* values, const float* scales, size_t count, size_t group,
               size_t n, float* out) {
  for (size_t p = 0; p < count; ++p) {
    const T* row = values + p * n;
    size_t i = 0;
    for (; i + kReach<T> <= n; i += 4) {
      const float32x4_t v = load4(row + i);
      for (size_t j = 0; j < group; ++j) {
        float* y = out + j * n + i;
        vst1q_f32(y, vfmaq_n_f32(vld1q_f32(y), v, weights[j * stride + p] * (scales ? scales[p] : 1.0f)));
      }
    }
    for (; i < n; ++i) {
      for (size_t j = 0; j < group; ++j) out[j * n + i] += weights[j * stride + p] * (scales ? scales[p] : 1.0f) * to_float(row[i]);
    }
  }
}

// Unquantized weight rows against f32 activations: four chains of 4 lanes (the multiply-add
// latency); f16 widened by vcvt, bf16 by a 16-bit left shift into the upper half.
inline float32x4_t load_weights(const float* p) { return vld1q_f32(p); }
inline float32x4_t load_weights(const uint16_t* p) { return load4(p); }
inline float32x4_t load_weights(const Bf16* p) {
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
}
inline float weight_value(float w) { return w; }
inline float weight_value(uint16_t w) { return f16_to_f32(w); }
inline float weight_value(Bf16 w) { return bf16_to_f32(w.bits); }

template <class T>
float dot_float_row(const T* w, const float* x, size_t n) {
  float32x4_t sums[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (size_t k = 0; k < 4; ++k) sums[k] = vfmaq_f32(sums[k], load_weights(w + i + 4 * k), vld1q_f32(x + i + 4 * k));
  }
  for (; i + 4 <= n; i += 4) sums[0] = vfmaq_f32(sums[0], load_weights(w + i), vld1q_f32(x + i));
  float total = vaddvq_f32(vaddq_f32(vaddq_f32(sums[0], sums[1]), vaddq_f32(sums[2], sums[3])));
  for (; i < n; ++i) total += weight_value(w[i]) * x[i];
  return total;
}

template <class T>
void dot_float_rows(const T* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) out[r] = dot_float_row(w + r * stride, x, n);
}

void neon_dot_rows_f32(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  dot_float_rows(w, stride, rows, x, n, out);
}
void neon_dot_rows_f16(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  dot_float_rows(w, stride, rows, x, n, out);
}
void neon_dot_rows_bf16(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  dot_float_rows(reinterpret_cast<const Bf16*>(w), stride, rows, x, n, out);
}

// The interleaved types (block_q4k_x8.h, block_q8_x8.h) on baseline NEON (no SDOT: ARMv8.0 cores
// such as the Cortex-A53): each block's eight rows de-interleaved (q4k_x8's scales unpacked once
// for the eight) and multiplied by the table's row kernel. Correct, slower than the plain layouts
// there; the dot-product table has its own kernels (neon_dotprod_dot_q4k_x8, _q8_x8).
template <class Interleaved, class Row, class Activation,
          void (*Deinterleave)(const Interleaved*, Row* const[8], size_t),
          float (*RowDot)(const Row*, const Activation*, size_t)>
void dot_x8_by_rows(const Interleaved* w, const Activation* a, size_t n, float* out) {
  for (size_t r = 0; r < 8; ++r) out[r] = 0.0f;
  Row rows[8];
  Row* const row_pointers[8] = {&rows[0], &rows[1], &rows[2], &rows[3], &rows[4], &rows[5], &rows[6], &rows[7]};
  for (size_t b = 0; b < n / Interleaved::kElements; ++b) {
    Deinterleave(w + b, row_pointers, Interleaved::kElements);
    for (size_t r = 0; r < 8; ++r) out[r] += RowDot(&rows[r], a + b, Interleaved::kElements);
  }
}

constexpr auto* neon_dot_q4k_x8 =
    &dot_x8_by_rows<BlockQ4Kx8, BlockQ4K, BlockQ8K, deinterleave_q4k_x8_rows, neon_dot_q4k<dot32_s8>>;
constexpr auto* neon_dot_q8_x8 =
    &dot_x8_by_rows<BlockQ8x8, BlockQ8, BlockQ8A, deinterleave_q8_x8_rows, neon_dot_q8<dot32_s8>>;

}  // namespace

const Kernels* neon_kernels() {
  // q6k and q3k have no NEON kernels: their rows are the scalar references (with_reference_rows).
  static const Kernels kernels = with_reference_rows({
      .isa = Isa::neon,
      .quantize_q8a = quantize_row_q8a_ref,
      .quantize_q8k = quantize_row_q8k_ref,
      .key_scores_f16 = key_scores<uint16_t>,
      .value_sum_f16 = value_sum<uint16_t>,
      .key_scores_i8 = key_scores<int8_t>,
      .value_sum_i8 = value_sum<int8_t>,
      .prefetch = Prefetch::hardware,
      .types = rows_by_type<TypeKernels>({
          {TensorType::f32, {.dot_rows = dot_rows_kernel<neon_dot_rows_f32>}},
          {TensorType::f16, {.dot_rows = dot_rows_kernel<neon_dot_rows_f16>}},
          {TensorType::bf16, {.dot_rows = dot_rows_kernel<neon_dot_rows_bf16>}},
          {TensorType::q8, {.dot = dot_kernel<neon_dot_q8<dot32_s8>>}},
          {TensorType::q4, {.dot = dot_kernel<neon_dot_q4<dot32_s8>>}},
          {TensorType::q4k, {.dot = dot_kernel<neon_dot_q4k<dot32_s8>>}},
          {TensorType::q4k_x8, {.group_dot = group_dot_kernel<neon_dot_q4k_x8>}},
          {TensorType::q8_x8, {.group_dot = group_dot_kernel<neon_dot_q8_x8>}},
      }),
  });
  return &kernels;
}

const Kernels* neon_dotprod_kernels() {
  // NEON's table with the SDOT integer dot products.
  static const Kernels kernels = [] {
    Kernels table = *neon_kernels();
    table.isa = Isa::neon_dotprod;
    table.types = with_faster_rows(table.types,
                                   {
                                       {TensorType::q8, {.dot = dot_kernel<neon_dotprod_dot_q8>}},
                                       {TensorType::q4, {.dot = dot_kernel<neon_dotprod_dot_q4>}},
                                       {TensorType::q4k, {.dot = dot_kernel<neon_dotprod_dot_q4k>}},
                                       {TensorType::q4k_x8, {.group_dot = group_dot_kernel<neon_dotprod_dot_q4k_x8>}},
                                       {TensorType::q8_x8, {.group_dot = group_dot_kernel<neon_dotprod_dot_q8_x8>}},
                                   });
    return table;
  }();
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? &kernels : nullptr;
}

}  // namespace smoe::quant
