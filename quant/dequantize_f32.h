// Weight rows decoded to f32 at prompt time (the int8 prompt path decodes every weight of a
// chunk once): AVX-512 and AVX2 versions for q4k, q8, q6k and q3k (x86/dequantize.h), and
// dequantize_row() for everything else. The values are dequantize_row()'s, bit for bit (the
// references' multiplies and subtractions, no fused multiply-add).
#pragma once

#include <cstddef>

#include "quant/isa.h"
#include "quant/formats/tensor_type.h"

namespace smoe::quant {

// `n` whole blocks of `type` at `src` -> dst (n,) f32, by the kernels of level `isa` (AVX-512's
// from avx512 up, AVX2's from avx2 up; dequantize_row() elsewhere).
void dequantize_row_fast(Isa isa, TensorType type, const void* src, float* dst, size_t n);

// The AVX-512 and AVX2 kernels (nullptr when not compiled in, the CPU lacks AVX512-F/BW or
// AVX2 and F16C, or `type` has none).
using DequantizeF32Fn = void (*)(const void* src, float* dst, size_t n);
DequantizeF32Fn avx512_dequantize_f32(TensorType type);
DequantizeF32Fn avx2_dequantize_f32(TensorType type);

}  // namespace smoe::quant
