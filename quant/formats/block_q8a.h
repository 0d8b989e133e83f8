// q8a: activations quantized on the fly to 8 bits, in blocks of 32 with an f32 scale and the
// block's sum, so weight x activation dot products run in integer arithmetic (llama.cpp's
// Q8_0/Q8_K idea). Never stored in files; layout chosen for the kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/block_q4.h"
#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"

namespace smoe::quant {

// qs lie in [-127, 127] (never -128) in both activation blocks: the q8 kernels' sign trick
// (|w| x sign(a, w)) has no +128 to flip -128 to.
struct BlockQ8A {
  static constexpr size_t kElements = 32;
  float d;              // scale: x[i] ~= d * qs[i]
  int32_t sum;          // sum of qs, for the minimum terms of q4 and q4k
  int8_t qs[kElements];
};
static_assert(sizeof(BlockQ8A) == 40);

// Activations for the super-block types: one scale per 256 (so the integer products of all
// sub-blocks can be summed before one float multiply), the sum of each 32-value sub-block (q4k's
// minimums) and of each 16 values (the zero points of q6k and q3k, whose scales cover 16).
struct BlockQ8K {
  static constexpr size_t kElements = 256;
  float d;                   // x[i] ~= d * qs[i]
  int16_t sums[8];           // sum of qs over each sub-block of 32
  int16_t sums16[16];        // sum of qs over each 16
  int8_t qs[kElements];
};
static_assert(sizeof(BlockQ8K) == 308);

// Symmetric int8 of x (n,): d = max|x| / 127, qs = round(x / d); returns d. The activation
// blocks below and the q8 KV cache's head slices use it.
float quantize_symmetric(const float* x, size_t n, int8_t* qs);

// x (n,) -> n / 32 blocks; d = max|x| / 127, qs = round(x / d).
void quantize_row_q8a_ref(const float* x, BlockQ8A* out, size_t n);
// x (n,) -> n / 256 blocks, likewise with one scale per 256.
void quantize_row_q8k_ref(const float* x, BlockQ8K* out, size_t n);

// Scalar references of weight-row x quantized-activation dot products (n weights).
float dot_q8_q8a_ref(const BlockQ8* w, const BlockQ8A* a, size_t n);
float dot_q4_q8a_ref(const BlockQ4* w, const BlockQ8A* a, size_t n);
float dot_q4k_q8a_ref(const BlockQ4K* w, const BlockQ8A* a, size_t n);
float dot_q4k_q8k_ref(const BlockQ4K* w, const BlockQ8K* a, size_t n);
float dot_q6k_q8k_ref(const BlockQ6K* w, const BlockQ8K* a, size_t n);
float dot_q3k_q8k_ref(const BlockQ3K* w, const BlockQ8K* a, size_t n);

}  // namespace smoe::quant
