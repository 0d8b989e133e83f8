// Weight rows decoded to f32 at prompt time (the int8 prompt path and oneDNN's f32 path decode
// every weight of a chunk once): each kernel table's rows hold the decoder of their type
// (TypeKernels::to_f32, kernels.h), dequantize_row() in the scalar rows. The x86 tables' rows
// name the AVX2 and AVX-512 decoders below (x86/dequantize.h), whose values are
// dequantize_row()'s, bit for bit (the references' multiplies and subtractions, no fused
// multiply-add).
#pragma once

#include <cstddef>

namespace smoe::quant {

// `n` whole blocks of the type at `src` -> dst (n,) f32, at AVX2 width (dequantize_f32_avx2.cpp)
// and at AVX-512 width (dequantize_f32_avx512.cpp). x86 builds only; their tables check the CPU.
void avx2_q8_to_f32(const void* src, float* dst, size_t n);
void avx2_q4k_to_f32(const void* src, float* dst, size_t n);
void avx2_q6k_to_f32(const void* src, float* dst, size_t n);
void avx2_q3k_to_f32(const void* src, float* dst, size_t n);
void avx512_q8_to_f32(const void* src, float* dst, size_t n);
void avx512_q4k_to_f32(const void* src, float* dst, size_t n);
void avx512_q6k_to_f32(const void* src, float* dst, size_t n);
void avx512_q3k_to_f32(const void* src, float* dst, size_t n);

}  // namespace smoe::quant
