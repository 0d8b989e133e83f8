// The "avx512" table (AVX-512 F, BW, VL): 512-bit attention kernels (simd/attention.h), and the
// AVX2 weight dot products, which measured faster than 512-bit versions without VNNI on
// both AMD and Intel cores (q4k by 10-20% on Zen 4; Intel cores issue 512-bit multiplies on
// one port, 256-bit ones on two; docs/PERFORMANCE.md). The table still exists apart from
// "avx2": AVX-512 CPUs get zmm row decoders for the prompt paths (to f32, and to bf16 with
// AVX512-BF16) and, with VNNI, the avx512-vnni table built on this one.
#include "quant/cpu_features.h"
#include "quant/dequantize_bf16.h"
#include "quant/dequantize_f32.h"
#include "quant/formats/untyped_kernels.h"
#include "quant/kernels.h"
#include "quant/simd/attention.h"
#include "quant/simd/float_dot.h"
#include "quant/x86/kernels.h"

namespace smoe::quant {
namespace {

template <Prefetch P>
const Kernels& avx512_table() {
  // avx2's table with the float and attention loops zmm-wide, and the zmm row decoders (to bf16
  // where the CPU converts to it, AVX512-BF16).
  static const Kernels kernels = [] {
    Kernels table = *avx2_kernels(P);
    table.isa = Isa::avx512;
    table.key_scores_f16 = key_scores<Avx512Vector, uint16_t>;
    table.value_sum_f16 = value_sum<Avx512Vector, uint16_t>;
    table.key_scores_i8 = key_scores<Avx512Vector, int8_t>;
    table.value_sum_i8 = value_sum<Avx512Vector, int8_t>;
    const bool bf16 = cpu_features().avx512_bf16;
    const auto to_bf16 = [bf16](auto decoder) { return bf16 ? decoder : nullptr; };
    table.types = with_faster_rows(
        table.types, {
                         {TensorType::f32, {.dot_rows = dot_rows_kernel<dot_rows_f32<Avx512Vector, P>>}},
                         {TensorType::f16, {.dot_rows = dot_rows_kernel<dot_rows_f16<Avx512Vector, P>>}},
                         {TensorType::bf16, {.dot_rows = dot_rows_kernel<dot_rows_bf16<Avx512Vector, P>>}},
                         {TensorType::q8, {.to_f32 = avx512_q8_to_f32, .to_bf16 = to_bf16(avx512_q8_to_bf16)}},
                         {TensorType::q4k, {.to_f32 = avx512_q4k_to_f32, .to_bf16 = to_bf16(avx512_q4k_to_bf16)}},
                         {TensorType::q6k, {.to_f32 = avx512_q6k_to_f32, .to_bf16 = to_bf16(avx512_q6k_to_bf16)}},
                         {TensorType::q3k, {.to_f32 = avx512_q3k_to_f32, .to_bf16 = to_bf16(avx512_q3k_to_bf16)}},
                     });
    return table;
  }();
  return kernels;
}

}  // namespace

const Kernels* avx512_kernels(Prefetch prefetch) {
  const CpuFeatures& cpu = cpu_features();
  const bool supported = cpu.avx512f && cpu.avx512bw && cpu.avx512vl && avx2_kernels() != nullptr;
  if (!supported) return nullptr;
  return prefetch == Prefetch::software ? &avx512_table<Prefetch::software>() : &avx512_table<Prefetch::hardware>();
}

}  // namespace smoe::quant
