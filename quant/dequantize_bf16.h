// Weight rows decoded to bf16 for prompt-time matrix products on bf16 hardware (AMX-BF16,
// AVX512-BF16): half the bytes of f32 rows and a 4x faster oneDNN matmul where AMX exists.
//
// The values are the f32 decode of dequantize_row() rounded to nearest-even bf16; the AVX-512
// versions (q4k, q8, the expert and attention types of the default recipe) produce the same
// bits as the reference and are chosen at run time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/isa.h"
#include "quant/formats/tensor_type.h"

namespace smoe::quant {

// Scalar reference: dequantize_row() then round to bf16. `n` whole blocks of `type`.
void dequantize_row_bf16_ref(TensorType type, const void* src, uint16_t* dst, size_t n);

// The AVX-512 version where `isa` is avx512 or above and this CPU has AVX512-BF16, else the
// reference (also where no kernel exists for `type`).
void dequantize_row_bf16(Isa isa, TensorType type, const void* src, uint16_t* dst, size_t n);

// Whether a CPU with `features`, running kernels of level `isa`, multiplies bf16 matrices
// natively (AVX512-BF16): oneDNN's prompt path uses bf16 only then.
bool multiplies_bf16(Isa isa, const CpuFeatures& features);

// The AVX-512 kernels (nullptr when not compiled in or the CPU lacks AVX512-BF16).
using DequantizeBf16Fn = void (*)(const void* src, uint16_t* dst, size_t n);
DequantizeBf16Fn avx512_dequantize_bf16(TensorType type);

}  // namespace smoe::quant
