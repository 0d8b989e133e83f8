// Matrix products of a stored weight matrix (any weight type) with f32 activations.
// Never says "Mixtral": these are plain linear-algebra operations.
#pragma once

#include <cstddef>
#include <span>

#include "format/container.h"
#include "ops/cpu_plan.h"

namespace smoe::ops {

// W (out, in) @ x (n_tokens, in) -> y (n_tokens, out), y[t][r] = sum_i W[r][i] * x[t][i].
// Rows of W are split across `threads` OpenMP threads; each row is read from memory once per
// call, whatever n_tokens is (batched prompts read each weight once). Float weights (f32, f16,
// bf16) multiply f32 activations exactly; quantized weights (q8, q4, q4k, q6k, q3k) multiply
// activations quantized to 8 bits (blocks of 32; of 256 for the super-block types), with the kernels of the CPU plan.
void matmul(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu);

// Several matrices sharing one input (attention's q, k, v; an expert's w1 and w3):
// outputs[i].y = x W_i^T. For small batches of one quantized type and width the activations
// are quantized once and every row of every matrix is split across the threads in one loop:
// one fork and join instead of one per matrix; prompts on the int8 path quantize the input once
// for all of them. Otherwise the same as matmul() per matrix.
struct MatmulOutput {
  const format::TensorView* w;
  float* y;  // (n_tokens, w rows)
};
void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens, const CpuContext& cpu);

// Independent small batches, each with its own input (a layer's chosen experts, each with the
// tokens routed to it), in one parallel region: the rows of every matrix in ranges that the
// threads take from both ends of a list ordered by tokens, so that some threads multiply the
// batches of many tokens (bound by the kernels' arithmetic) while others stream the rows of
// those with few (bound by memory). Each row comes out as matmul_shared_input computes it
// (the same kernel on the same activations); batches past the dot kernels' range go through
// matmul_shared_input one after another.
struct MatmulBatch {
  std::span<const MatmulOutput> outputs;  // sharing the input x, of one type and width
  const float* x;                         // (n_tokens, width)
  size_t n_tokens;
};
void matmul_batches(std::span<const MatmulBatch> batches, const CpuContext& cpu);

// One row of an embedding-like matrix as f32: W[row] -> out (in,).
void read_row(const format::TensorView& w, size_t row, float* out);

}  // namespace smoe::ops
