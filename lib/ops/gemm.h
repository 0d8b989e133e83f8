// Prompt-time matrix products: a chunk of weight rows is decoded once, then multiplied with
// every token of the batch (compute-bound work where a per-row dot product kernel would be
// limited by re-reading activations). Quantized weights on x86 CPUs with AVX2: requantized to
// int8 for smoe's own kernels (tdpbusd with AMX, vpdpbusd with VNNI, vpmaddubsw without;
// gemm_int8.cpp); elsewhere
// through oneDNN, decoded to bf16 on CPUs with native bf16, else to f32 (bf16 weights there used
// as stored), for oneDNN's blocked matmul or sgemm (gemm_onednn.cpp).
#pragma once

#include <cstddef>
#include <string_view>

#include "format/container.h"
#include "ops/cpu_plan.h"
#include "ops/matmul.h"
#include "quant/formats/tensor_type.h"

namespace smoe::ops {

// On oneDNN's path batches at least this large go through gemm(); smaller ones (decoding) use
// the dot kernels. Decoding a weight to f32 costs about as much as ~16 integer dot products with
// it, so the gemm path pays off from a few dozen tokens per matrix (an expert sees ~n x k /
// experts).
inline constexpr size_t kGemmMinTokens = 32;
// On the int8 path the crossover is lower, and depends on how cheaply a type's rows become int8
// against how fast its dot kernel is, and on the int8 kernels (`kernels`: AMX, or the level's).
// Each threshold is the batch where ops::gemm overtook the dot kernels on one 14336 x 4096
// matrix from DRAM, one thread. Types taken as stored (q8) or from their nibbles (q4, q4k)
// cross earlier than requantized ones (q6k, q3k); the plain AVX2 kernel ("avx2") needs larger
// batches, its dot kernels losing less to it; AMX crosses earliest. The probe and the
// crossovers per kernel: docs/PERFORMANCE-HISTORY.md. Interleaved rows (q4k_x8, q8_x8) have
// their own, later crossover on the VNNI tables: their dot kernels take several tokens per pass
// over the weights, and end to end (prompts of 32-512 tokens of the 2-layer synthetic 8x7B, 2
// threads) they stayed ahead up to 64 rows per matrix.
size_t int8_gemm_min_tokens(quant::TensorType type, const quant::Int8PromptKernels& kernels);

// Whether gemm() multiplies weights of `type` in int8 under `plan` (quantized weights where the
// plan has int8 prompt kernels).
bool gemm_uses_int8(quant::TensorType type, const CpuPlan& plan);

// The smallest batch that goes through gemm() for weights of `type` under `plan`.
size_t gemm_min_tokens(quant::TensorType type, const CpuPlan& plan);

// W (out, in) @ x (n_tokens, in) -> y (n_tokens, out), for any weight type.
void gemm(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu);

// The int8 path of gemm() for quantized weights where the plan has int8 prompt kernels
// (gemm_int8.cpp); exposed for tests and comparisons.
void gemm_int8(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu);

// The same for several matrices with one input (q, k, v; w1, w3): the input is quantized once
// for consecutive matrices of one int8 block size and width, not once per matrix.
void gemm_int8_shared_input(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens,
                            const CpuContext& cpu);

// Plain f32 matrix products through oneDNN's sgemm (row-major):
//   C (m, n) = alpha A (m, k) B^T, B given as (n, k)      [sgemm_nt]
//   C (m, n) = A (m, k) B, B given as (k, n)              [sgemm_nn]
void sgemm_nt(const float* a, const float* b, size_t m, size_t n, size_t k, float alpha, float* c, int threads);
void sgemm_nn(const float* a, const float* b, size_t m, size_t n, size_t k, float* c, int threads);

}  // namespace smoe::ops
