// Round to nearest, ties to even, of a value below 2^22 in magnitude: adding and removing
// 1.5 x 2^23 leaves an integer (IEEE default rounding), std::nearbyint's result, inline and
// vectorisable where nearbyint is a library call per value. NaN passes through as it does
// through nearbyint. Callers that feed it a product must be compiled with -ffp-contract=off: a
// fused multiply-add would round the exact product rather than the float one.
#pragma once

namespace smoe::quant {

inline constexpr float kRoundToEvenMagic = 12582912.0f;  // 1.5 x 2^23

inline float round_to_even(float v) { return (v + kRoundToEvenMagic) - kRoundToEvenMagic; }

}  // namespace smoe::quant
