// The decoding of q4k and q8 blocks to f32 vectors, shared by the f32 and bf16 row decoders
// (dequantize_f32_avx512.cpp, dequantize_bf16_avx512.cpp, dequantize_f32_avx2.cpp), which differ
// in their vector width (Vec: Avx2Vector or Avx512Vector, vector_x86.h) and in how they store
// each vector of values. Each value is computed as the scalar reference computes it (multiply,
// then subtract): include only from files compiled without -mfma or with -ffp-contract=off, so
// that the compiler cannot fuse the two.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/dequantize_f32.h"
#include "quant/vector_x86.h"

namespace smoe::quant {

// File-local to each includer: the files are compiled with different flags (see kernels_x86.h
// for why a shared definition would be a hazard).
namespace {

// store(offset, values): the block's 256 values, Vec::kWidth at a time, offset within the block.
template <class Vec, class Store>
inline void q4k_block_values(const BlockQ4K& block, Store store) {
  using V = typename Vec::V;
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  const float d = _cvtsh_ss(block.d), dmin = _cvtsh_ss(block.dmin);
  uint8_t unpacked[16];
  q4k_unpack_scales(block.scales, unpacked);
  for (size_t chunk = 0; chunk < 4; ++chunk) {
    // Chunk c: low nibbles are sub-block 2c (weights 64c + 0..31), high nibbles 2c + 1.
    const float factors[4] = {d * float(unpacked[2 * chunk]), dmin * float(unpacked[8 + 2 * chunk]),
                              d * float(unpacked[2 * chunk + 1]), dmin * float(unpacked[8 + 2 * chunk + 1])};
    const V low_step = Vec::broadcast(&factors[0]), low_offset = Vec::broadcast(&factors[1]);
    const V high_step = Vec::broadcast(&factors[2]), high_offset = Vec::broadcast(&factors[3]);
    for (size_t at = 0; at < 32; at += Vec::kWidth) {
      const __m128i packed = Vec::load_bytes(block.qs + 32 * chunk + at);
      const __m128i low = _mm_and_si128(packed, low_nibbles);
      const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibbles);
      store(64 * chunk + at, Vec::sub(Vec::mul(low_step, Vec::from_u8(low)), low_offset));
      store(64 * chunk + 32 + at, Vec::sub(Vec::mul(high_step, Vec::from_u8(high)), high_offset));
    }
  }
}

// store(offset, values) for the block's 32 values, Vec::kWidth at a time.
template <class Vec, class Store>
inline void q8_block_values(const BlockQ8& block, Store store) {
  const float d = _cvtsh_ss(block.d);
  const typename Vec::V scale = Vec::broadcast(&d);
  for (size_t at = 0; at < 32; at += Vec::kWidth) {
    const __m128i values = Vec::load_bytes(reinterpret_cast<const uint8_t*>(block.qs) + at);
    store(at, Vec::mul(scale, Vec::from_s8(values)));
  }
}

// The f32 row decoders of q4k and q8 (dequantize_f32.h) at Vec's width, nullptr for other types.
template <class Vec>
void dequantize_q4k_f32(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  for (size_t b = 0; b < n / 256; ++b) {
    q4k_block_values<Vec>(blocks[b],
                          [&](size_t at, typename Vec::V values) { Vec::store(dst + 256 * b + at, values); });
  }
}
template <class Vec>
void dequantize_q8_f32(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const BlockQ8*>(src);
  for (size_t b = 0; b < n / 32; ++b) {
    q8_block_values<Vec>(blocks[b], [&](size_t at, typename Vec::V values) { Vec::store(dst + 32 * b + at, values); });
  }
}
template <class Vec>
DequantizeF32Fn f32_row_decoder(TensorType type) {
  return type == TensorType::q4k ? dequantize_q4k_f32<Vec> : type == TensorType::q8 ? dequantize_q8_f32<Vec> : nullptr;
}

}  // namespace
}  // namespace smoe::quant
