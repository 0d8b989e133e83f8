// x86 kernels shared between the per-ISA tables (defined in kernels_avx2.cpp, compiled with
// AVX2 flags; the AVX-512 table reuses them, every AVX-512 CPU has AVX2).
#pragma once

#include "quant/block_q8a.h"

namespace smoe::quant {

void avx2_quantize_q8a(const float* x, BlockQ8A* out, size_t n);
void avx2_quantize_q8k(const float* x, BlockQ8K* out, size_t n);
float avx2_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n);
float avx2_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n);
float avx2_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n);

}  // namespace smoe::quant
