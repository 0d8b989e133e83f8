// Run-time selection of the weight x activation kernels by CPU features.
//
// One table per instruction set; the scalar reference is always available and every other
// table is tested against it. Which one runs is the CPU plan's choice (ops/cpu_plan.h), made
// once per model.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/block_q8a.h"
#include "quant/formats/f16_vector.h"
#include "quant/formats/tensor_type.h"
#include "quant/isa.h"

namespace smoe::quant {

// How the weight dot kernels get their bytes from DRAM ahead of use: with prefetch instructions
// (2 KiB ahead into L1, 4 KiB into L2) or from the hardware prefetchers alone. It depends on the
// core: on Intel cores the instructions made one-core q4k decode 1.65x faster; on Zen 4 they
// cost speed instead (its hardware prefetchers keep up, and the instructions take load slots;
// docs/PERFORMANCE.md). Every x86 table exists in both variants. The attention kernels
// prefetch the KV cache's rows in both: that measured faster on Zen 4 too. `l2_only` (prefetch
// instructions into L2 alone) is no table's variant: the kernels that multiply two or more
// tokens per weight load use it on every core (x86/kernels.h, kTokensPrefetch).
enum class Prefetch { software, hardware, l2_only };

// The activation blocks a quantized type's dot kernels read (block_q8a.h), which the table's
// quantize_q8a or quantize_q8k makes; none: f32 activations (the float types).
enum class ActivationBlocks : uint8_t { none, q8a, q8k };

// One weight type's kernels in one table (its row). Block pointers are untyped: every row has
// the same fields, each a typed kernel behind formats/untyped_kernels.h's wrappers. A table's
// row leaves nullptr where the ISA has no faster kernel, and with_reference_rows() fills it with
// the scalar table's: a looked-up kernel is never nullptr where the scalar row has one.
struct TypeKernels {
  // Quantized types: the activation blocks dot and group_dot read (the scalar row says; the
  // others take it from there).
  ActivationBlocks activations = ActivationBlocks::none;
  // Row types: one stored row of n weights . one token's activation blocks.
  float (*dot)(const void* w, const void* a, size_t n) = nullptr;
  // Interleaved types (row_group 8): out[r] = row r . activations, r < 8.
  void (*group_dot)(const void* w, const void* a, size_t n, float* out) = nullptr;
  // The same for `tokens` activation rows a[0..tokens) at once, out[8 t + r]: each token's eight
  // sums exactly as group_dot gives them (several sequences decoded together share the weights'
  // unpacking). nullptr even in a complete row: group_dot per token.
  void (*group_tokens_dot)(const void* w, const void* const* a, size_t tokens, size_t n, float* out) = nullptr;
  // Interleaved types: a group's blocks back to its eight rows (the prompt paths read them so),
  // bit for bit as the format's reference.
  void (*deinterleave)(const void* blocks, void* const rows[], size_t n) = nullptr;
  // Float types (f32, f16, bf16) against f32 activations (not rounded):
  // out[r] = sum_i w[r * stride + i] * x[i] for r < rows (stride in elements).
  void (*dot_rows)(const void* w, size_t stride, size_t rows, const float* x, size_t n, float* out) = nullptr;
  // Row types: n weights (whole blocks) decoded, as dequantize_row() decodes them, bit for bit:
  // to f32, and to bf16 (those values rounded to nearest even), for the prompt paths.
  void (*to_f32)(const void* src, float* dst, size_t n) = nullptr;
  void (*to_bf16)(const void* src, uint16_t* dst, size_t n) = nullptr;
  // Row types: n weights (whole blocks) quantized as quantize_row() does, bit for bit (the
  // converter's inner loop); importance (n,) or nullptr, as there.
  void (*quantize_row)(const float* src, void* dst, size_t n, const float* importance) = nullptr;
};

using TypeRows = std::array<TypeKernels, kTensorTypeCount>;
// `rows` with each non-null kernel of `faster`'s rows in place of theirs: a table built on
// another one (avx512 on avx2, the VNNI tables on those) names only what it does faster.
TypeRows with_faster_rows(TypeRows rows, std::initializer_list<RowOfType<TypeKernels>> faster);

struct Kernels {
  Isa isa = Isa::scalar;
  void (*quantize_q8a)(const float* x, BlockQ8A* out, size_t n) = nullptr;
  void (*quantize_q8k)(const float* x, BlockQ8K* out, size_t n) = nullptr;
  // Attention over one KV head's cached positions (rows of n values, contiguous), for the
  // `group` query heads that share it (grouped-query attention):
  //   scores[j * stride + p] = sum_i key[p * n + i] * q[j * n + i]          p < count, j < group
  //   out[j * n + i] += sum_p weights[j * stride + p] * value[p * n + i]
  // over an f16 cache, and over an int8 (q8) cache; row p is scales[p] times the stored row
  // (scales may be nullptr: unscaled, as the f16 cache is).
  void (*key_scores_f16)(const uint16_t* keys, const float* scales, size_t count, const float* q, size_t group,
                         size_t n, float* scores, size_t stride) = nullptr;
  void (*value_sum_f16)(const float* weights, size_t stride, const uint16_t* values, const float* scales, size_t count,
                        size_t group, size_t n, float* out) = nullptr;
  void (*key_scores_i8)(const int8_t* keys, const float* scales, size_t count, const float* q, size_t group, size_t n,
                        float* scores, size_t stride) = nullptr;
  void (*value_sum_i8)(const float* weights, size_t stride, const int8_t* values, const float* scales, size_t count,
                       size_t group, size_t n, float* out) = nullptr;
  Prefetch prefetch = Prefetch::hardware;  // scalar and NEON tables issue no prefetch instructions
  // Each weight type's kernels, indexed by type id: look a type's row up once per matrix (for_type).
  TypeRows types{};

  const TypeKernels& for_type(TensorType type) const { return types[static_cast<size_t>(type)]; }
};

// `table` with each row completed from the scalar table's: its activation blocks, and each
// kernel it leaves nullptr. Every table but the scalar one is built through it.
Kernels with_reference_rows(Kernels table);

// "avx2", or "avx2+prefetch" for the variant with prefetch instructions: what smoe-bench,
// smoe-chat --verbose and the kernel benchmarks print.
std::string kernels_name(const Kernels& kernels);

const Kernels& scalar_kernels();
const Kernels* avx2_kernels(Prefetch prefetch = Prefetch::software);  // nullptr when not compiled in or the CPU lacks AVX2/FMA/F16C
const Kernels* avx512_kernels(Prefetch prefetch = Prefetch::software);  // nullptr without AVX-512 F/BW/VL (and AVX2)
// The AVX2 table with the VEX-encoded VNNI dot products; nullptr without AVX-VNNI.
const Kernels* avx2_vnni_kernels(Prefetch prefetch = Prefetch::software);
// The AVX-512 table with VNNI dot products; nullptr without AVX512-VNNI.
const Kernels* avx512_vnni_kernels(Prefetch prefetch = Prefetch::software);
const Kernels* neon_kernels();          // AArch64 only; nullptr elsewhere
const Kernels* neon_dotprod_kernels();  // AArch64 with the dot-product extension (SDOT)

// Every kernel table this machine can run, scalar first, each x86 one in both prefetch variants.
std::vector<const Kernels*> available_kernels();
// The prefetch variant measured faster on this CPU: hardware on AMD cores with AVX-512 (Zen 4
// and later), software on the others (measured on Zen 4, Zen 3 and Xeons; taken to hold for
// their families).
Prefetch preferred_prefetch(const CpuFeatures& features);
// The table of `isa` in the `prefetch` variant (or its only variant), or nullptr where this
// machine does not run `isa`.
const Kernels* kernels_for(Isa isa, Prefetch prefetch);

}  // namespace smoe::quant
