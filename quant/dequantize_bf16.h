// Weight rows decoded to bf16 for prompt-time matrix products on bf16 hardware (AMX-BF16,
// AVX512-BF16): half the bytes of f32 rows and a 4x faster oneDNN matmul where AMX exists.
//
// The values are the f32 decode of dequantize_row() rounded to nearest-even bf16; the AVX-512
// versions (q4k, q8, the expert and attention types of the default recipe) produce the same
// bits as the reference; each kernel table's rows hold their type's decoder (TypeKernels::to_bf16,
// kernels.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/isa.h"
#include "quant/formats/tensor_type.h"

namespace smoe::quant {

// Scalar reference: dequantize_row() then round to bf16. `n` whole blocks of `type`.
void dequantize_row_bf16_ref(TensorType type, const void* src, uint16_t* dst, size_t n);

// Whether a CPU with `features`, running kernels of level `isa`, multiplies bf16 matrices
// natively (AVX512-BF16): oneDNN's prompt path uses bf16 only then.
bool multiplies_bf16(Isa isa, const CpuFeatures& features);

// The AVX-512 decoders of q4k, q8, q6k and q3k (dequantize_bf16_avx512.cpp; x86 builds only),
// which the avx512 tables' rows name on CPUs with AVX512-BF16 (TypeKernels::to_bf16, kernels.h;
// the reference in the other rows).
void avx512_q4k_to_bf16(const void* src, uint16_t* dst, size_t n);
void avx512_q8_to_bf16(const void* src, uint16_t* dst, size_t n);
void avx512_q6k_to_bf16(const void* src, uint16_t* dst, size_t n);
void avx512_q3k_to_bf16(const void* src, uint16_t* dst, size_t n);

}  // namespace smoe::quant
