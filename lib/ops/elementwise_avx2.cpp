// The xsimd element-wise kernels for xsimd::fma3<xsimd::avx2> (compiled with its flags; see elementwise_simd.h).
#include "ops/elementwise_simd_impl.h"

namespace smoe::ops::simd {
SMOE_INSTANTIATE_ELEMENTWISE(xsimd::fma3<xsimd::avx2>)
}  // namespace smoe::ops::simd
