// The xsimd element-wise kernels for xsimd::avx512f (compiled with its flags; see elementwise_simd.h).
#include "ops/elementwise_simd_impl.h"

namespace smoe::ops::simd {
SMOE_INSTANTIATE_ELEMENTWISE(xsimd::avx512f)
}  // namespace smoe::ops::simd
