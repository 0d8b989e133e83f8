// Element-wise and per-row operations on f32 activations.
#pragma once

#include <cstddef>

#include "quant/isa.h"

namespace smoe::ops {

// RMSNorm (Zhang & Sennrich 2019): out = x / sqrt(mean(x^2) + eps) * weight; x, out (n,).
void rms_norm(const float* x, const float* weight, size_t n, float eps, float* out);

// The exp-heavy element-wise kernels of one instruction set:
//   silu_mul: SwiGLU's gate, gate[i] = silu(gate[i]) * up[i], silu(z) = z / (1 + e^-z);
//   softmax: in-place softmax of scale * x (n,), scale > 0, computed stably in f32.
struct ElementwiseKernels {
  void (*silu_mul)(float* gate, const float* up, size_t n) = nullptr;
  void (*softmax)(float* x, size_t n, float scale) = nullptr;
};

// The xsimd kernels of the level `isa` (AVX-512's, AVX2's, NEON's), or the scalar references
// for scalar. The vector versions agree with the references to a few ulp.
ElementwiseKernels elementwise_kernels(quant::Isa isa);

// The scalar references.
void silu_mul_ref(float* gate, const float* up, size_t n);
void softmax_ref(float* x, size_t n, float scale = 1.0f);

}  // namespace smoe::ops
