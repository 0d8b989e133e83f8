// AVX2 (with F16C) decoders of q4k, q8, q6k and q3k rows to f32, for the int8 prompt path on
// CPUs with AVX-VNNI and no AVX-512 (compiled with -mavx2 -mf16c and no -mfma, so that GCC cannot
// fuse a multiply and a subtraction: the values are the scalar references', bit for bit).
#include "quant/dequantize_f32.h"
#include "quant/x86/dequantize.h"

namespace smoe::quant {

void avx2_q8_to_f32(const void* src, float* dst, size_t n) { dequantize_q8_f32<Avx2Vector>(src, dst, n); }
void avx2_q4k_to_f32(const void* src, float* dst, size_t n) { dequantize_q4k_f32<Avx2Vector>(src, dst, n); }
void avx2_q6k_to_f32(const void* src, float* dst, size_t n) { dequantize_q6k_f32<Avx2Vector>(src, dst, n); }
void avx2_q3k_to_f32(const void* src, float* dst, size_t n) { dequantize_q3k_f32<Avx2Vector>(src, dst, n); }

}  // namespace smoe::quant
