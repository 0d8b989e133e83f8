// The decoding of q4k, q8, q6k and q3k blocks to f32 vectors, shared by the f32 and bf16 row
// decoders (dequantize_f32_avx512.cpp, dequantize_bf16_avx512.cpp, dequantize_f32_avx2.cpp),
// which differ in their vector width (Vec: Avx2Vector or Avx512Vector, x86/vector.h) and in how
// they store each vector of values. Each value is computed as the scalar reference computes it
// (its multiplies, then its subtraction): include only from files compiled without -mfma or with
// -ffp-contract=off, so that the compiler cannot fuse them.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"
#include "quant/x86/vector.h"

namespace smoe::quant {

// File-local to each includer: the files are compiled with different flags (see x86/kernels.h
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

// The bytes of `v` shifted right by `bits` (16-bit lanes; the caller masks what crosses bytes).
inline __m128i shift_right(__m128i v, int bits) { return _mm_srl_epi16(v, _mm_cvtsi32_si128(bits)); }

// store(offset, values) for a 16-weight sub-block type's 256 values (q6k, q3k), Vec::kWidth at a
// time: value p = (d x scale[p / 16]) x (q(p) - zero), with `signed_values(c, j, l)` the
// kWidth values q - zero (int8) of weights 128c + 32j + l ... (as the references compute them).
template <class Vec, class SignedValues, class Store>
inline void sub_blocks_of_16_values(float d, const int8_t* scales, SignedValues signed_values, Store store) {
  for (size_t c = 0; c < 2; ++c) {
    for (int j = 0; j < 4; ++j) {
      for (size_t l = 0; l < 32; l += Vec::kWidth) {
        const size_t p = 128 * c + 32 * size_t(j) + l;
        const float step = d * float(scales[p / 16]);
        store(p, Vec::mul(Vec::broadcast(&step), Vec::from_s8(signed_values(c, j, l))));
      }
    }
  }
}

template <class Vec, class Store>
inline void q6k_block_values(const BlockQ6K& block, Store store) {
  const auto values = [&](size_t c, int j, size_t l) {
    // q6k_value: the nibble of ql[64c + 32 (j & 1) + l] at 4 (j >> 1), bits 2j of qh[32c + l] above.
    const __m128i low = _mm_and_si128(
        shift_right(Vec::load_bytes(block.ql + 64 * c + 32 * size_t(j & 1) + l), 4 * (j >> 1)), _mm_set1_epi8(0x0f));
    const __m128i high = _mm_and_si128(shift_right(Vec::load_bytes(block.qh + 32 * c + l), 2 * j), _mm_set1_epi8(0x03));
    return _mm_sub_epi8(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi8(32));
  };
  sub_blocks_of_16_values<Vec>(_cvtsh_ss(block.d), block.scales, values, store);
}

template <class Vec, class Store>
inline void q3k_block_values(const BlockQ3K& block, Store store) {
  int8_t scales[16];
  q3k_unpack_scales(block.scales, scales);
  const auto values = [&](size_t c, int j, size_t l) {
    // q3k_value: bits 2j of qs[32c + l], bit 4c + j of hmask[l] above them.
    const __m128i low = _mm_and_si128(shift_right(Vec::load_bytes(block.qs + 32 * c + l), 2 * j), _mm_set1_epi8(0x03));
    const __m128i high =
        _mm_and_si128(shift_right(Vec::load_bytes(block.hmask + l), int(4 * c) + j), _mm_set1_epi8(0x01));
    return _mm_sub_epi8(_mm_or_si128(low, _mm_slli_epi16(high, 2)), _mm_set1_epi8(4));
  };
  sub_blocks_of_16_values<Vec>(_cvtsh_ss(block.d), scales, values, store);
}

// The f32 row decoders of q4k, q8, q6k and q3k at Vec's width (dequantize_f32.h names them
// per instruction set).
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
template <class Vec, class Block, class BlockValues>
void dequantize_blocks_f32(const void* src, float* dst, size_t n, BlockValues block_values) {
  const auto* blocks = static_cast<const Block*>(src);
  for (size_t b = 0; b < n / Block::kElements; ++b) {
    block_values(blocks[b],
                 [&](size_t at, typename Vec::V values) { Vec::store(dst + Block::kElements * b + at, values); });
  }
}
template <class Vec>
void dequantize_q6k_f32(const void* src, float* dst, size_t n) {
  dequantize_blocks_f32<Vec, BlockQ6K>(src, dst, n,
                                       [](const BlockQ6K& block, auto store) { q6k_block_values<Vec>(block, store); });
}
template <class Vec>
void dequantize_q3k_f32(const void* src, float* dst, size_t n) {
  dequantize_blocks_f32<Vec, BlockQ3K>(src, dst, n,
                                       [](const BlockQ3K& block, auto store) { q3k_block_values<Vec>(block, store); });
}
}  // namespace
}  // namespace smoe::quant
