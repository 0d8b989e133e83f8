// AArch64 kernels with the dot-product extension (SDOT: four int8 products summed into each
// int32 lane), compiled with -march=armv8.2-a+dotprod and chosen only on CPUs with
// HWCAP_ASIMDDP. The loops are kernels_neon.h's, over this file's dot primitive.
#include "quant/kernels_neon.h"

namespace smoe::quant {
namespace {

int32_t dot32_sdot(int8x16_t w0, int8x16_t w1, int8x16_t a0, int8x16_t a1) {
  return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, a0), w1, a1));
}

}  // namespace

float neon_dotprod_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) { return neon_dot_q8<dot32_sdot>(w, a, n); }
float neon_dotprod_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) { return neon_dot_q4<dot32_sdot>(w, a, n); }
float neon_dotprod_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) { return neon_dot_q4k<dot32_sdot>(w, a, n); }

}  // namespace smoe::quant
