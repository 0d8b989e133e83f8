// Error-compensating rounding (GPTQ: Frantar et al. 2022, "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers", Algorithm 1 with groups, act-order
// off): a row's weights are rounded one column after the other, and each rounding error is
// spread over the columns not yet rounded so that the row's output error on the calibration
// inputs, (w - w') H (w - w')^T with H = sum over tokens of x x^T, is smaller than rounding each
// weight to its nearest level gives. Block formats fix their scales per group (a k-quant
// super-block of 256, a q4 block of 32): each group's scales are searched (by the format's own,
// importance-weighted search) on the weights as the errors of the columns before it left them,
// then its columns are rounded on that grid. The bytes are the format's: decoding is unchanged.
//
// H is used in diagonal blocks of `block_columns` (whole groups): errors propagate within a
// block, never across (block_columns = n is plain GPTQ with the full H).
#pragma once

#include <cstddef>
#include <vector>

#include "quant/formats/tensor_type.h"

namespace smoe::quant {

// Row types the rounding handles: q4, q4k, q3k, q6k.
bool gptq_rounds(TensorType row_type);
// Weights per group of a type gptq_rounds (its block: 32 or 256).
size_t gptq_group_elements(TensorType row_type);

// The factor GPTQ propagates errors with: the upper Cholesky factor U of (H + lambda I)^-1, where
// lambda = dampening x the mean of H's diagonal (GPTQ's 1%: keeps the inverse well-conditioned
// when calibration saw few tokens) and inputs never seen (H_ii = 0) count as 1. `covariance`
// (n, n) row-major, only its upper triangle (i <= j) read; `factor` (n, n) gets U, row-major,
// zeros below the diagonal. Computed in double. False when H's diagonal is all zero or H is
// not positive semi-definite enough to factor.
bool gptq_inverse_factor(const float* covariance, size_t n, double dampening, float* factor);

// Its two steps, declared for the tests that compare them with the textbook loops bit for bit.
// a (n, n) symmetric -> its lower Cholesky factor in the lower triangle (the upper one left as
// it was); false when a pivot is not positive.
bool cholesky_lower(std::vector<double>& a, size_t n);
// The inverse of the lower triangle of l (n, n), itself lower triangular.
std::vector<double> invert_lower(const std::vector<double>& l, size_t n);

// One row `src` (n,) quantized to `type` into `dst` (row_bytes(type, n) bytes) with GPTQ
// rounding. `factors` holds n / block_columns blocks of (block_columns, block_columns) from
// gptq_inverse_factor, block b for columns [b block_columns, (b + 1) block_columns);
// block_columns a multiple of the type's group and a divisor of n. `quantize_row` is the type's
// quantizer (any of the same bits: reference or vectorized), used on one group at a time to
// choose its scales; `importance` (n,) or nullptr as for it. Deterministic: the same bytes
// whatever thread calls it.
using QuantizeRowKernel = void (*)(const float* src, void* dst, size_t n, const float* importance);
void quantize_row_gptq(TensorType type, QuantizeRowKernel quantize_row, const float* src, void* dst, size_t n,
                       const float* importance, const float* factors, size_t block_columns);
// The same for `rows` rows (src rows n apart, dst rows one row's bytes apart): the bytes of
// rounding each alone, several times faster (rows are rounded side by side).
void quantize_rows_gptq(TensorType type, QuantizeRowKernel quantize_row, const float* src, void* dst, size_t rows,
                        size_t n, const float* importance, const float* factors, size_t block_columns);

}  // namespace smoe::quant
