// Vectorised element-wise kernels written once with xsimd and compiled per instruction set:
// each functor's operator() is a template over an xsimd architecture, defined in
// elementwise_simd_impl.h and instantiated in elementwise_<arch>.cpp under that arch's flags
// (xsimd 8.1 picks SSE2 without them). The CPU plan takes the one of its level (ops::elementwise_kernels).
// The scalar references stay in elementwise.cpp; test_elementwise.cpp compares every arch
// with them.
#pragma once

#include <cstddef>
#include <xsimd/xsimd.hpp>

namespace smoe::ops::simd {

// In-place softmax of scale * x (n,), scale > 0 (attention folds 1/sqrt(head_dim) in).
struct Softmax {
  template <class Arch>
  void operator()(Arch, float* x, size_t n, float scale) const;
};

// gate[i] = silu(gate[i]) * up[i], silu(z) = z / (1 + e^-z).
struct SiluMul {
  template <class Arch>
  void operator()(Arch, float* gate, const float* up, size_t n) const;
};

}  // namespace smoe::ops::simd
