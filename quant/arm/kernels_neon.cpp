// AArch64 NEON kernel tables (baseline Armv8-A, and with SDOT where the CPU has the
// dot-product extension; the shared integer loops are in kernels_neon.h). The attention and
// float-row kernels are the ones every architecture shares (simd/attention.h,
// simd/float_dot.h) over NeonVector (arm/vector.h), without software prefetch of the weights.
// q6k, q3k and the activation quantizers use the scalar references (they are not on the
// default recipe's hot path).
#include <arm_neon.h>
#include <sys/auxv.h>

#include "quant/arm/kernels_neon.h"
#include "quant/arm/vector.h"
#include "quant/dequantize_bf16.h"
#include "quant/formats/half.h"
#include "quant/formats/untyped_kernels.h"
#include "quant/kernels.h"
#include "quant/simd/attention.h"
#include "quant/simd/float_dot.h"

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
      .key_scores_f16 = key_scores<NeonVector, uint16_t>,
      .value_sum_f16 = value_sum<NeonVector, uint16_t>,
      .key_scores_i8 = key_scores<NeonVector, int8_t>,
      .value_sum_i8 = value_sum<NeonVector, int8_t>,
      .prefetch = Prefetch::hardware,
      .types = rows_by_type<TypeKernels>({
          {TensorType::f32, {.dot_rows = dot_rows_kernel<dot_rows_f32<NeonVector, Prefetch::hardware>>}},
          {TensorType::f16, {.dot_rows = dot_rows_kernel<dot_rows_f16<NeonVector, Prefetch::hardware>>}},
          {TensorType::bf16, {.dot_rows = dot_rows_kernel<dot_rows_bf16<NeonVector, Prefetch::hardware>>}},
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
