// The xsimd element-wise kernels for xsimd::neon64 (compiled with its flags; see elementwise_simd.h).
#include "ops/elementwise_simd_impl.h"

namespace smoe::ops::simd {
SMOE_INSTANTIATE_ELEMENTWISE(xsimd::neon64)
}  // namespace smoe::ops::simd
