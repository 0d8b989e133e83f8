// AVX-512 (F, BW, with F16C) decoders of q4k, q8, q6k and q3k rows to f32, compiled with those
// flags and chosen only on CPUs that have them; the same values as the scalar references
// (dequantize_f32.h).
#include "quant/dequantize_f32.h"
#include "quant/x86/dequantize.h"

namespace smoe::quant {

void avx512_q8_to_f32(const void* src, float* dst, size_t n) { dequantize_q8_f32<Avx512Vector>(src, dst, n); }
void avx512_q4k_to_f32(const void* src, float* dst, size_t n) { dequantize_q4k_f32<Avx512Vector>(src, dst, n); }
void avx512_q6k_to_f32(const void* src, float* dst, size_t n) { dequantize_q6k_f32<Avx512Vector>(src, dst, n); }
void avx512_q3k_to_f32(const void* src, float* dst, size_t n) { dequantize_q3k_f32<Avx512Vector>(src, dst, n); }

}  // namespace smoe::quant
