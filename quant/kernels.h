// Run-time selection of the weight x activation kernels by CPU features.
//
// One table per instruction set; the scalar reference is always available and every other
// table is tested against it. Which one runs is the CPU plan's choice (ops/cpu_plan.h), made
// once per model.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/block_q8a.h"
#include "quant/formats/f16_vector.h"
#include "quant/isa.h"

namespace smoe::quant {

// How the weight dot kernels get their bytes from DRAM ahead of use: with prefetch instructions
// (2 KiB ahead into L1, 4 KiB into L2) or from the hardware prefetchers alone. It depends on the
// core: on Intel cores the instructions made one-core q4k decode 1.65x faster; on Zen 4 they
// cost speed instead (its hardware prefetchers keep up, and the instructions take load slots;
// docs/PERFORMANCE.md). Every x86 table exists in both variants. The attention kernels
// prefetch the KV cache's rows in both: that measured faster on Zen 4 too.
enum class Prefetch { software, hardware };

struct Kernels {
  Isa isa = Isa::scalar;
  void (*quantize_q8a)(const float* x, BlockQ8A* out, size_t n) = nullptr;
  void (*quantize_q8k)(const float* x, BlockQ8K* out, size_t n) = nullptr;
  float (*dot_q8)(const BlockQ8* w, const BlockQ8A* a, size_t n) = nullptr;
  float (*dot_q4)(const BlockQ4* w, const BlockQ8A* a, size_t n) = nullptr;
  float (*dot_q4k)(const BlockQ4K* w, const BlockQ8K* a, size_t n) = nullptr;
  float (*dot_q6k)(const BlockQ6K* w, const BlockQ8K* a, size_t n) = nullptr;
  float (*dot_q3k)(const BlockQ3K* w, const BlockQ8K* a, size_t n) = nullptr;
  // Unquantized weight rows against f32 activations (not rounded), for f32, f16 and bf16
  // weights: out[r] = sum_i w[r * stride + i] * x[i] for r < rows (stride in elements).
  void (*dot_rows_f32)(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) = nullptr;
  void (*dot_rows_f16)(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) = nullptr;
  void (*dot_rows_bf16)(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) = nullptr;
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
  // Eight interleaved q4k rows (block_q4k_x8.h) at once: out[r] = row r . activations, r < 8.
  void (*dot_q4k_x8)(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out) = nullptr;
  // The same for `tokens` activation rows a[0..tokens) at once, out[8 t + r]: each token's
  // eight sums exactly as dot_q4k_x8 gives them (several sequences decoded together share the
  // weights' unpacking). nullptr: dot_q4k_x8 per token.
  void (*dot_q4k_x8_tokens)(const BlockQ4Kx8* w, const BlockQ8K* const* a, size_t tokens, size_t n,
                            float* out) = nullptr;
  // deinterleave_q4k_x8_rows (the prompt paths read q4k_x8 rows through it), bit for bit.
  void (*deinterleave_q4k_x8_rows)(const BlockQ4Kx8* blocks, BlockQ4K* const rows[8], size_t n) = nullptr;
  // Eight interleaved q8 rows (block_q8_x8.h) at once: out[r] = row r . activations, r < 8.
  void (*dot_q8_x8)(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out) = nullptr;
  // The same for `tokens` activation rows at once, as dot_q4k_x8_tokens.
  void (*dot_q8_x8_tokens)(const BlockQ8x8* w, const BlockQ8A* const* a, size_t tokens, size_t n,
                           float* out) = nullptr;
  // deinterleave_q8_x8_rows (the prompt paths read q8_x8 rows through it), bit for bit.
  void (*deinterleave_q8_x8_rows)(const BlockQ8x8* blocks, BlockQ8* const rows[8], size_t n) = nullptr;
};

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
