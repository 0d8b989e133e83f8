// Row conversions between f32 and every weight type of the container, by scalar reference.
// The converter uses them to write tensors; tests use them to read tensors back.
#pragma once

#include <cstddef>

#include "quant/formats/tensor_type.h"

namespace smoe::quant {

// src (n,) f32 -> dst: one row of n elements stored as `type` (row_bytes(type, n) bytes).
// Requires row_fits_type(type, n) and a weight type (not u8). `importance` (n,) optionally
// weights the quantization error per weight (used by q4 and q4k; ignored by the others).
void quantize_row(TensorType type, const float* src, void* dst, size_t n, const float* importance = nullptr);

// src: one row of n elements stored as `type` -> dst (n,) f32.
void dequantize_row(TensorType type, const void* src, float* dst, size_t n);

}  // namespace smoe::quant
