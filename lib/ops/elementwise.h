// Element-wise and per-row operations on f32 activations.
#pragma once

#include <cstddef>

namespace smoe::ops {

// RMSNorm (Zhang & Sennrich 2019): out = x / sqrt(mean(x^2) + eps) * weight; x, out (n,).
void rms_norm(const float* x, const float* weight, size_t n, float eps, float* out);

// SwiGLU gate: gate[i] = silu(gate[i]) * up[i], silu(z) = z / (1 + e^-z).
void silu_mul(float* gate, const float* up, size_t n);

// In-place softmax over x (n,), computed stably in f32.
void softmax(float* x, size_t n);

}  // namespace smoe::ops
