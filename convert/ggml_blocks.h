// llama.cpp's (ggml's) tensor block types as GGUF stores them: decoding rows to f32, and which
// of them smoe can keep as they are.
//
// Q8_0, Q4_1, Q4_K, Q6_K and Q3_K are bit-identical to smoe's q8, q4, q4k, q6k and q3k; Q4_0
// re-encodes exactly as q4 (w = d (q - 8) = d q + m with m = -8 d); F32, F16 and BF16 are the
// same. Q5_0, Q5_1, Q5_K and Q2_K have no smoe equivalent and are decoded to f32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "quant/formats/tensor_type.h"

namespace smoe::convert {

enum GgmlType : uint32_t {
  kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ4_1 = 3, kGgmlQ5_0 = 6, kGgmlQ5_1 = 7, kGgmlQ8_0 = 8,
  kGgmlQ2_K = 10, kGgmlQ3_K = 11, kGgmlQ4_K = 12, kGgmlQ5_K = 13, kGgmlQ6_K = 14, kGgmlBF16 = 30,
};

// Whether rows of this ggml type can be decoded (the converter refuses other types by name).
bool ggml_type_decodable(uint32_t type);

// Decodes `n` elements (whole blocks) of a row of `type` to f32.
void ggml_dequantize_row(uint32_t type, const std::byte* row, float* out, size_t n);

// The smoe type that holds this ggml type exactly, if any.
std::optional<quant::TensorType> ggml_keep_type(uint32_t type);

// Copies `n` elements of a row into the keep type's blocks (a copy, or Q4_0 -> q4). Returns
// false when the re-encoding cannot be exact (a Q4_0 scale so large that -8 d overflows f16).
bool ggml_keep_row(uint32_t type, const std::byte* row, std::byte* out, size_t n);

}  // namespace smoe::convert
