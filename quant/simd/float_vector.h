// What the float kernels written once (simd/attention.h, simd/float_dot.h) ask of an
// architecture's vector traits: f32 lanes loaded from a cache's or a weight row's element type
// (f32, f16, bf16, int8), multiply-adds and lane sums. x86/vector.h (Avx2Vector, Avx512Vector)
// and arm/vector.h (NeonVector) provide them; a new instruction set adds one such struct and
// instantiates the kernels in its table's file.
#pragma once

#ifdef __F16C__
#include <immintrin.h>
#endif

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "quant/formats/half.h"

namespace smoe::quant {

template <class Vec>
concept FloatVector = requires(typename Vec::V v, float* out, const float* f32, const uint16_t* f16, const Bf16* bf16,
                               const int8_t* int8, const typename Vec::V (&lanes)[Vec::kWidth]) {
  // Lanes per vector, key rows per block of key_scores (heads x positions <= kWidth, so that
  // one sum_lanes reduces the block), value vectors per head in a pass of value_sum.
  requires std::same_as<decltype(Vec::kWidth), const size_t>;
  requires std::same_as<decltype(Vec::kPositions), const size_t>;
  requires std::same_as<decltype(Vec::kValueVectors), const size_t>;
  { Vec::zero() } -> std::same_as<typename Vec::V>;
  // kWidth elements widened to f32, reading no element past them.
  { Vec::load(f32) } -> std::same_as<typename Vec::V>;
  { Vec::load(f16) } -> std::same_as<typename Vec::V>;
  { Vec::load(bf16) } -> std::same_as<typename Vec::V>;
  { Vec::load(int8) } -> std::same_as<typename Vec::V>;
  { Vec::broadcast(f32) } -> std::same_as<typename Vec::V>;
  { Vec::fma(v, v, v) } -> std::same_as<typename Vec::V>;  // a * b + c
  { Vec::add(v, v) } -> std::same_as<typename Vec::V>;
  { Vec::reduce(v) } -> std::same_as<float>;             // the sum of the lanes
  { Vec::sum_lanes(lanes) } -> std::same_as<typename Vec::V>;  // lane l = reduce(lanes[l])
  Vec::store(out, v);
};

namespace {  // every including file gets its own copy, compiled with its own flags

// One element as f32, for the elements past a row's last whole vector; exact, as the loads are.
// Plain overloads, not templates over Vec (which measured 6% slower int8 keys with AVX-512: GCC
// vectorised the key blocks' epilogue worse); f16 by F16C's instruction where the file is
// compiled with it, as the x86 kernels always converted it.
inline float to_float(float v) { return v; }
inline float to_float(uint16_t h) {
#ifdef __F16C__
  return _cvtsh_ss(h);
#else
  return f16_to_f32(h);
#endif
}
inline float to_float(int8_t v) { return float(v); }
inline float to_float(Bf16 v) { return bf16_to_f32(v.bits); }

}  // namespace
}  // namespace smoe::quant
