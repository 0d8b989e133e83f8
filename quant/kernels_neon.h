// AArch64 kernels shared between the NEON tables (kernels_neon.cpp); the SDOT versions live in
// kernels_neon_dotprod.cpp, compiled with +dotprod and chosen only when the CPU has it.
#pragma once

#include "quant/block_q8a.h"

namespace smoe::quant {

float neon_dotprod_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n);
float neon_dotprod_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n);
float neon_dotprod_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n);

}  // namespace smoe::quant
