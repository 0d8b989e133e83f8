// Dot product of one stored weight row with an f32 activation vector, for every weight type
// (scalar references). The matrix operations in lib/ops call these through one table.
#pragma once

#include <cstddef>

#include "quant/tensor_type.h"

namespace smoe::quant {

// row: one row of n weights stored as the type; x (n,) -> sum_i w[i] * x[i]
using RowDotFn = float (*)(const void* row, const float* x, size_t n);

// The scalar reference for `type` (not u8).
RowDotFn row_dot_ref(TensorType type);

}  // namespace smoe::quant
