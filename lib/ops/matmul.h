// Matrix products of a stored weight matrix (any weight type) with f32 activations.
// Never says "Mixtral": these are plain linear-algebra operations.
#pragma once

#include <cstddef>

#include "format/container.h"

namespace smoe::ops {

// W (out, in) @ x (n_tokens, in) -> y (n_tokens, out), y[t][r] = sum_i W[r][i] * x[t][i].
// Rows of W are split across `threads` OpenMP threads; each row is read from memory once per
// call, whatever n_tokens is (batched prompts read each weight once). Float weights (f32, f16,
// bf16) multiply f32 activations exactly; quantized weights (q8, q4, q4k, q6k, q3k) multiply
// activations quantized to 8 bits (blocks of 32; of 256 for the super-block types), with the kernels quant::active_kernels() chose.
void matmul(const format::TensorView& w, const float* x, size_t n_tokens, float* y, int threads);

// One row of an embedding-like matrix as f32: W[row] -> out (in,).
void read_row(const format::TensorView& w, size_t row, float* out);

}  // namespace smoe::ops
