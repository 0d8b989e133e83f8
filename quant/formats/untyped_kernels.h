// A typed kernel behind the untyped signature of its field in a type's row (the type table,
// tensor_type.h; the kernel tables, kernels.h): every type's row has the same fields, so each
// block pointer is `const void*` there. dot_kernel<kernel> (and its kin below, one per field
// shape) casts the pointers back to the kernel's own parameter types and calls it; the kernel is
// a template argument, so the call is direct (inlined, or a jump), never through a second pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

namespace smoe::quant {

// File-local to each includer: the kernel tables' files are compiled with different instruction
// set flags, and one shared instantiation would carry one file's flags into the others' tables
// (see x86/kernels.h).
namespace {

template <class Function>
struct KernelParameters;
template <class Result, class... Parameters>
struct KernelParameters<Result (*)(Parameters...)> {
  template <size_t I>
  using At = std::tuple_element_t<I, std::tuple<Parameters...>>;
};
// The type of parameter I of kernel kKernel.
template <auto kKernel, size_t I>
using ParameterOf = typename KernelParameters<decltype(kKernel)>::template At<I>;

// Casts an untyped pointer (`const void*`, or `const void* const*` for an array of pointers to
// blocks, which the kernel reads as the Block pointers they are) to the kernel's parameter type.
template <class Typed, class Untyped>
inline Typed typed(Untyped pointer) {
  if constexpr (std::is_void_v<std::remove_cv_t<std::remove_pointer_t<Untyped>>>) {
    return static_cast<Typed>(pointer);
  } else {
    return reinterpret_cast<Typed>(pointer);
  }
}

// float (const W*, const A*, size_t): a row against one token's activation blocks.
template <auto kDot>
float dot_kernel(const void* w, const void* a, size_t n) {
  return kDot(typed<ParameterOf<kDot, 0>>(w), typed<ParameterOf<kDot, 1>>(a), n);
}

// void (const W*, const A*, size_t, float* out): a group of interleaved rows against one token.
template <auto kDot>
void group_dot_kernel(const void* w, const void* a, size_t n, float* out) {
  kDot(typed<ParameterOf<kDot, 0>>(w), typed<ParameterOf<kDot, 1>>(a), n, out);
}

// void (const W*, const A* const* a, size_t tokens, size_t n, float* out): a group against
// several tokens.
template <auto kDot>
void group_tokens_dot_kernel(const void* w, const void* const* a, size_t tokens, size_t n, float* out) {
  kDot(typed<ParameterOf<kDot, 0>>(w), typed<ParameterOf<kDot, 1>>(a), tokens, n, out);
}

// void (const Group*, Row* const rows[8], size_t n): a group's blocks back to its rows (the row
// pointers copied as Row pointers).
template <auto kDeinterleave>
void deinterleave_kernel(const void* blocks, void* const rows[], size_t n) {
  using RowPointer = std::remove_cv_t<std::remove_pointer_t<ParameterOf<kDeinterleave, 1>>>;  // Block*
  constexpr size_t kRows = 8;  // the interleaved types' groups (block_q4k_x8.h, block_q8_x8.h)
  RowPointer typed_rows[kRows];
  for (size_t r = 0; r < kRows; ++r) typed_rows[r] = static_cast<RowPointer>(rows[r]);
  kDeinterleave(typed<ParameterOf<kDeinterleave, 0>>(blocks), typed_rows, n);
}

// void (const W* w, size_t stride, size_t rows, const float* x, size_t n, float* out): float
// weight rows against f32 activations.
template <auto kDotRows>
void dot_rows_kernel(const void* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  kDotRows(typed<ParameterOf<kDotRows, 0>>(w), stride, rows, x, n, out);
}

// void (const W* src, T* dst, size_t n): a row decoded (to f32 or bf16).
template <auto kDecode>
void decode_kernel(const void* src, ParameterOf<kDecode, 1> dst, size_t n) {
  kDecode(typed<ParameterOf<kDecode, 0>>(src), dst, n);
}

// void (const float* src, W* dst, size_t n[, const float* importance]): a row quantized; the
// quantizers without importance weights ignore it.
template <auto kQuantize>
void quantize_kernel(const float* src, void* dst, size_t n, [[maybe_unused]] const float* importance) {
  using Block = ParameterOf<kQuantize, 1>;
  if constexpr (std::is_invocable_v<decltype(kQuantize), const float*, Block, size_t, const float*>) {
    kQuantize(src, static_cast<Block>(dst), n, importance);
  } else {
    kQuantize(src, static_cast<Block>(dst), n);
  }
}

}  // namespace
}  // namespace smoe::quant
