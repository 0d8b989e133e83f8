// Element-wise and per-row operations on f32 activations.
#pragma once

#include <cstddef>

namespace smoe::ops {

// RMSNorm (Zhang & Sennrich 2019): out = x / sqrt(mean(x^2) + eps) * weight; x, out (n,).
void rms_norm(const float* x, const float* weight, size_t n, float eps, float* out);

// SwiGLU gate: gate[i] = silu(gate[i]) * up[i], silu(z) = z / (1 + e^-z). Vectorised.
void silu_mul(float* gate, const float* up, size_t n);

// In-place softmax of scale * x (n,), scale > 0, computed stably in f32. Vectorised.
void softmax(float* x, size_t n, float scale = 1.0f);

// Scalar references of the two above (the vector versions agree to a few ulp).
void silu_mul_ref(float* gate, const float* up, size_t n);
void softmax_ref(float* x, size_t n, float scale = 1.0f);

}  // namespace smoe::ops
