// Weight rows requantized to int8 without decoding them to f32 first, for the int8 prompt
// products: the bytes and scales of row_as_int8_ref (decode, then requantize per int8 block),
// bit for bit, for q4 (blocks of 32), q4k (256), q6k (32) and q3k (256). Compiled
// into row_as_int8_avx512.cpp (AVX-512 F/BW/VL) and row_as_int8_avx2.cpp (AVX2), file-local to
// each (see x86/kernels.h), both with F16C and -ffp-contract=off: each value is rounded as the
// reference rounds it.
//
// Why it is exact and faster: within a sub-block a value is an affine function of its small
// integer q, monotonic in q, so a block's largest |v| comes from each sub-block's extreme q (byte
// reductions, not a float comparison per weight), and, f32 multiplication being monotonic and
// sign-symmetric, it is the very float the reference finds. (Stronger still: with an f16 scale of
// 11 significant bits, every product d sc k, d q, d sc q is exact in f32, below 2^24 in
// significand, so only q4's and q4k's final addition rounds, monotonically; and a nonzero |v|
// is at least 2^-24, so int8_block_scale's too-small-for-a-finite-multiplier case never arises.)
// - q4k (v = (d sc) q - dmin m, 16 possible nibbles) and q4 (v = d q + m): each sub-block's (or
//   block's) int8 values are a table of its 16 nibbles, 16 float conversions, then one pshufb
//   per 32 weights.
// - q6k and q3k (v = (d sc) k, k = q - zero signed): max |v| of a sub-block is (|d sc|) max |k|;
//   the values are converted once each (64 or 8 possible k: a table would cost more), in
//   registers, where decoding stored them as f32 and requantizing loaded them again.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/gemm_int8.h"
#include "quant/x86/vector.h"

namespace smoe::quant {
namespace {

// The int8 value + 128 of each nibble 0..15 of a sub-block: rint((step q - offset) x multiplier),
// the reference's roundings (one zmm of 16 floats, or two ymm).
inline __m128i sub_block_table(float step, float offset, float multiplier) {
#if defined(__AVX512F__)
  const __m512 nibbles = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 values = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(step), nibbles), _mm512_set1_ps(offset));
  const __m512i rounded = _mm512_cvtps_epi32(_mm512_mul_ps(values, _mm512_set1_ps(multiplier)));  // nearest even
  const __m128i table = _mm512_cvtsepi32_epi8(rounded);
#else
  __m256i rounded[2];
  for (int half = 0; half < 2; ++half) {
    const __m256 nibbles =
        _mm256_add_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_ps(8.0f * static_cast<float>(half)));
    const __m256 values = _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(step), nibbles), _mm256_set1_ps(offset));
    rounded[half] = _mm256_cvtps_epi32(_mm256_mul_ps(values, _mm256_set1_ps(multiplier)));  // nearest even
  }
  // Words [0..3, 8..11 | 4..7, 12..15] put in order, then bytes 0..15 in the low lane.
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(rounded[0], rounded[1]), 0xd8);
  const __m128i table = _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
#endif
  return _mm_xor_si128(table, _mm_set1_epi8(static_cast<char>(0x80)));
}

// Per sub-block j (s[j]: its 32 nibbles), op over its bytes, in dword j of the result (the byte
// zero-extended). Op: _mm256_min_epu8 or _mm256_max_epu8.
template <class Op>
inline __m256i reduce_sub_blocks(const __m256i* s, Op op) {
  // Halves of two sub-blocks against each other: [j (16 bytes) | j + 1 (16)].
  __m256i pairs[4];
  for (int k = 0; k < 4; ++k) {
    pairs[k] = op(_mm256_permute2x128_si256(s[2 * k], s[2 * k + 1], 0x20),
                  _mm256_permute2x128_si256(s[2 * k], s[2 * k + 1], 0x31));
  }
  // 8 bytes each: lanes [0, 2 | 1, 3] and [4, 6 | 5, 7].
  const __m256i quads[2] = {op(_mm256_unpacklo_epi64(pairs[0], pairs[1]), _mm256_unpackhi_epi64(pairs[0], pairs[1])),
                            op(_mm256_unpacklo_epi64(pairs[2], pairs[3]), _mm256_unpackhi_epi64(pairs[2], pairs[3]))};
  // 4 bytes each, dwords [0, 4, 2, 6 | 1, 5, 3, 7].
  const auto halve = [&](__m256i v) { return op(v, _mm256_shuffle_epi32(v, 0xb1)); };
  __m256i words = _mm256_blend_epi32(halve(quads[0]), halve(quads[1]), 0xaa);
  words = op(words, _mm256_srli_epi32(words, 16));
  words = op(words, _mm256_srli_epi32(words, 8));
  words = _mm256_and_si256(words, _mm256_set1_epi32(0xff));
  return _mm256_permutevar8x32_epi32(words, _mm256_setr_epi32(0, 4, 2, 6, 1, 5, 3, 7));
}

// int8_block_scale(max_abs[i], true) of eight blocks: the same divisions and conditions.
inline void int8_block_scales(__m256 max_abs, __m256& scale, __m256& multiplier) {
  scale = _mm256_div_ps(max_abs, _mm256_set1_ps(127.0f));
  const __m256 positive = _mm256_cmp_ps(scale, _mm256_setzero_ps(), _CMP_GT_OQ);
  multiplier = _mm256_and_ps(positive, _mm256_div_ps(_mm256_set1_ps(1.0f), scale));
  const __m256 representable = _mm256_cmp_ps(multiplier, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ);
  scale = _mm256_and_ps(representable, scale);
  multiplier = _mm256_and_ps(representable, multiplier);
}

// The 16 bytes of q4k_unpack_scales (8 scales, 8 minimums) moved from general registers into a
// vector: written to memory as four words and loaded as one vector, they stalled store
// forwarding in every block.
inline __m128i q4k_scale_bytes(const uint8_t* packed) {
  const Q4kScaleWords unpacked = q4k_unpack_scale_words(packed);
  return _mm_setr_epi32(static_cast<int>(unpacked.words[0]), static_cast<int>(unpacked.words[1]),
                        static_cast<int>(unpacked.words[2]), static_cast<int>(unpacked.words[3]));
}

// Eight blocks at a time: first each block's steps d x sc_j, offsets dmin x m_j and largest |v|,
// then their scales in one vector division (int8_block_scales: two scalar divisions a block, each
// waited on by the comparisons after it, were a fifth of the time), then the values.
inline void q4k_row_as_int8(const void* src, size_t n, uint8_t* q, float* scales) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  const auto load_sub_blocks = [&](const BlockQ4K& block, __m256i* sub_blocks) {
    for (size_t c = 0; c < 4; ++c) {  // sub-block 2c: chunk c's low nibbles; 2c + 1: its high ones
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
      sub_blocks[2 * c] = _mm256_and_si256(packed, low_nibbles);
      sub_blocks[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
    }
  };
  const size_t count = n / 256;
  for (size_t first = 0; first < count; first += 8) {
    const size_t group = std::min<size_t>(8, count - first);
    alignas(32) float steps[8][8], offsets[8][8], max_abs[8] = {}, multipliers[8];
    bool finite[8];
    for (size_t j = 0; j < group; ++j) {
      const BlockQ4K& block = blocks[first + j];
      const float d = _cvtsh_ss(block.d), dmin = _cvtsh_ss(block.dmin);
      finite[j] = std::isfinite(d) && std::isfinite(dmin);
      if (!finite[j]) continue;  // NaN values: the reference's NaN scale and zeros, below
      __m256i sub_blocks[8];
      load_sub_blocks(block, sub_blocks);
      // The reference's steps and offsets, then v at each sub-block's extremes.
      const __m128i scale_bytes = q4k_scale_bytes(block.scales);
      const __m256 step = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(scale_bytes)));
      const __m256 offset =
          _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scale_bytes, 8))));
      _mm256_store_ps(steps[j], step);
      _mm256_store_ps(offsets[j], offset);
      const auto value = [&](__m256i nibble) {
        return _mm256_sub_ps(_mm256_mul_ps(step, _mm256_cvtepi32_ps(nibble)), offset);
      };
      const auto smallest = [](__m256i x, __m256i y) { return _mm256_min_epu8(x, y); };
      const auto largest = [](__m256i x, __m256i y) { return _mm256_max_epu8(x, y); };
      const __m256 sign = _mm256_set1_ps(-0.0f);
      max_abs[j] =
          Avx2Vector::reduce_max(_mm256_max_ps(_mm256_andnot_ps(sign, value(reduce_sub_blocks(sub_blocks, smallest))),
                                               _mm256_andnot_ps(sign, value(reduce_sub_blocks(sub_blocks, largest)))));
    }
    __m256 scale, multiplier;
    int8_block_scales(_mm256_load_ps(max_abs), scale, multiplier);
    alignas(32) float block_scales[8];
    _mm256_store_ps(block_scales, scale);
    _mm256_store_ps(multipliers, multiplier);
    for (size_t j = 0; j < group; ++j) {
      const BlockQ4K& block = blocks[first + j];
      uint8_t* out = q + 256 * (first + j);
      if (!finite[j]) {
        row_as_int8_ref(TensorType::q4k, &block, 256, out, scales + first + j);
        continue;
      }
      scales[first + j] = block_scales[j];
      if (multipliers[j] == 0.0f) {  // all zeros, or too small for a finite multiplier: zeros
        std::memset(out, 128, 256);
        continue;
      }
      __m256i sub_blocks[8];
      load_sub_blocks(block, sub_blocks);
      for (size_t i = 0; i < 8; ++i) {
        const __m128i table = sub_block_table(steps[j][i], offsets[j][i], multipliers[j]);
        const __m256i bytes = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), sub_blocks[i]);
        // Sub-block 2c holds columns 64c .. 64c + 31, 2c + 1 the next 32.
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * i), bytes);
      }
    }
  }
}

// q4 (blocks of 32 with an f16 scale d and minimum m, v = d q + m, the int8 blocks' size): as
// q4k, the extremes from the smallest and largest nibble, the values from a table of 16; the
// scales of eight blocks at a time (one vector division instead of two scalar ones per block:
// those were a third of the time).
inline void q4_row_as_int8(const void* src, size_t n, uint8_t* q, float* scales) {
  const auto* blocks = static_cast<const BlockQ4*>(src);
  const __m128i low_nibbles = _mm_set1_epi8(0x0f), low_bytes = _mm_set1_epi16(0x00ff);
  // The smallest u16 of 8 (phminposuw) after halving the 16 bytes into the low byte of each word.
  const auto smallest_byte = [&](__m128i bytes) {
    const __m128i words = _mm_and_si128(_mm_min_epu8(bytes, _mm_srli_epi16(bytes, 8)), low_bytes);
    return _mm_cvtsi128_si32(_mm_minpos_epu16(words)) & 0xff;
  };
  const size_t count = n / 32;
  for (size_t first = 0; first < count; first += 8) {
    const size_t group = std::min<size_t>(8, count - first);
    alignas(32) float d[8] = {}, m[8] = {}, smallest[8] = {}, largest[8] = {}, multiplier[8];
    __m128i low[8], high[8];
    for (size_t j = 0; j < group; ++j) {
      const BlockQ4& block = blocks[first + j];
      d[j] = _cvtsh_ss(block.d);
      m[j] = _cvtsh_ss(block.m);
      const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs));
      low[j] = _mm_and_si128(packed, low_nibbles);
      high[j] = _mm_and_si128(_mm_srli_epi16(packed, 4), low_nibbles);
      smallest[j] = float(smallest_byte(_mm_min_epu8(low[j], high[j])));
      largest[j] = float(15 - smallest_byte(_mm_sub_epi8(low_nibbles, _mm_max_epu8(low[j], high[j]))));
    }
    // The reference's d x q + m at both extremes (no fused multiply-add: -ffp-contract=off).
    const __m256 steps = _mm256_load_ps(d), minimums = _mm256_load_ps(m), sign = _mm256_set1_ps(-0.0f);
    const __m256 at_smallest = _mm256_add_ps(_mm256_mul_ps(steps, _mm256_load_ps(smallest)), minimums);
    const __m256 at_largest = _mm256_add_ps(_mm256_mul_ps(steps, _mm256_load_ps(largest)), minimums);
    __m256 scale, multipliers;
    int8_block_scales(_mm256_max_ps(_mm256_andnot_ps(sign, at_smallest), _mm256_andnot_ps(sign, at_largest)), scale,
                      multipliers);
    alignas(32) float group_scales[8];
    _mm256_store_ps(group_scales, scale);
    _mm256_store_ps(multiplier, multipliers);
    for (size_t j = 0; j < group; ++j) {
      uint8_t* out = q + 32 * (first + j);
      if (!std::isfinite(d[j]) || !std::isfinite(m[j])) {  // NaN values: the reference's NaN scale and zeros
        row_as_int8_ref(TensorType::q4, &blocks[first + j], 32, out, scales + first + j);
        continue;
      }
      scales[first + j] = group_scales[j];
      // step x q - offset with offset -m: the reference's d q + m exactly; a multiplier of 0
      // (a block of zeros, or too small for a finite one) gives the reference's 128s.
      const __m128i table = sub_block_table(d[j], -m[j], multiplier[j]);
      const __m256i nibbles = _mm256_set_m128i(high[j], low[j]);  // weights 0..15, then 16..31
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                          _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), nibbles));
    }
  }
}

// The signed values k = q - 32 of a q6k block's 256 weights in weight order, 32 a register
// (q6k_value: weights 128c + 32j + l take the nibble of ql[64c + 32 (j & 1) + l] at 4 (j >> 1)
// and bits 2j of qh[32c + l] above it).
inline void q6k_signed_values(const BlockQ6K& block, __m256i* k) {
  const __m256i nibble = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(0x03), zero = _mm256_set1_epi8(32);
  for (size_t c = 0; c < 2; ++c) {
    const __m256i low[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * c)),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * c + 32))};
    const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh + 32 * c));
    for (int j = 0; j < 4; ++j) {
      const __m256i l = _mm256_and_si256(_mm256_srli_epi16(low[j & 1], 4 * (j >> 1)), nibble);
      const __m256i h = _mm256_and_si256(_mm256_srli_epi16(high, 2 * j), two_bits);
      k[4 * c + size_t(j)] = _mm256_sub_epi8(_mm256_or_si256(l, _mm256_slli_epi16(h, 4)), zero);
    }
  }
}

// The same for q3k, k = q - 4 (q3k_value: bits 2j of qs[32c + l], bit 4c + j of hmask[l] above).
inline void q3k_signed_values(const BlockQ3K& block, __m256i* k) {
  const __m256i two_bits = _mm256_set1_epi8(0x03), one_bit = _mm256_set1_epi8(0x01), zero = _mm256_set1_epi8(4);
  const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.hmask));
  for (size_t c = 0; c < 2; ++c) {
    const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
    for (int j = 0; j < 4; ++j) {
      const __m256i l = _mm256_and_si256(_mm256_srli_epi16(low, 2 * j), two_bits);
      const __m256i h = _mm256_and_si256(_mm256_srli_epi16(high, int(4 * c) + j), one_bit);
      k[4 * c + size_t(j)] = _mm256_sub_epi8(_mm256_or_si256(l, _mm256_slli_epi16(h, 2)), zero);
    }
  }
}

// max |k| of each 16-byte sub-block of the 256 values (k[i]: sub-blocks 2i and 2i + 1 in its
// 128-bit lanes), as int32 in sub-block order: by halving each sub-block's bytes while merging
// registers (64-, then 32-bit unpacks), then within each dword.
inline void sub_block_largest(const __m256i* k, __m256i* largest) {
  // halves[i]: 8-byte maxima of sub-blocks [4i | 4i + 2] in the low lane, [4i + 1 | 4i + 3] in the high one.
  __m256i halves[4];
  for (size_t i = 0; i < 4; ++i) {
    const __m256i x = _mm256_abs_epi8(k[2 * i]), y = _mm256_abs_epi8(k[2 * i + 1]);
    halves[i] = _mm256_max_epu8(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
  }
  for (size_t i = 0; i < 2; ++i) {
    // [a.0, b.0, a.1, b.1] dwords, so that the 64-bit unpacks pair each sub-block's two dwords.
    const __m256i x = _mm256_shuffle_epi32(halves[2 * i], 0xd8), y = _mm256_shuffle_epi32(halves[2 * i + 1], 0xd8);
    __m256i quarters = _mm256_max_epu8(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
    quarters = _mm256_max_epu8(quarters, _mm256_srli_epi32(quarters, 16));
    quarters = _mm256_max_epu8(quarters, _mm256_srli_epi32(quarters, 8));
    // Dwords [8i + 0, 2, 4, 6 | 8i + 1, 3, 5, 7] -> in order.
    largest[i] = _mm256_permutevar8x32_epi32(_mm256_and_si256(quarters, _mm256_set1_epi32(0xff)),
                                             _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
}

// Sub-blocks 2i and 2i + 1 (k: their 32 values) -> 32 bytes of rint((step[s] k) multiplier[s]) +
// 128, the reference's two roundings.
inline void sub_block_pair_as_int8(__m256i k, const float* step, const float* multiplier, uint8_t* out) {
#if defined(__AVX512F__)
  for (size_t half = 0; half < 2; ++half) {
    const __m128i values = half == 0 ? _mm256_castsi256_si128(k) : _mm256_extracti128_si256(k, 1);
    const __m512 v = _mm512_mul_ps(_mm512_set1_ps(step[half]), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(values)));
    const __m512i rounded = _mm512_cvtps_epi32(_mm512_mul_ps(v, _mm512_set1_ps(multiplier[half])));  // nearest even
    const __m128i bytes = _mm_xor_si128(_mm512_cvtsepi32_epi8(rounded), _mm_set1_epi8(static_cast<char>(0x80)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * half), bytes);
  }
#else
  __m256i rounded[4];  // 8 values each
  for (size_t quarter = 0; quarter < 4; ++quarter) {
    const __m128i lane = quarter < 2 ? _mm256_castsi256_si128(k) : _mm256_extracti128_si256(k, 1);
    const __m128i values = quarter % 2 == 0 ? lane : _mm_srli_si128(lane, 8);
    const __m256 v = _mm256_mul_ps(_mm256_set1_ps(step[quarter / 2]), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(values)));
    rounded[quarter] = _mm256_cvtps_epi32(_mm256_mul_ps(v, _mm256_set1_ps(multiplier[quarter / 2])));
  }
  // Two packs leave dwords [r0 0..3, r1 0..3, r2 0..3, r3 0..3 | r0 4..7, ...]; put them in order.
  const __m256i bytes =
      _mm256_packs_epi16(_mm256_packs_epi32(rounded[0], rounded[1]), _mm256_packs_epi32(rounded[2], rounded[3]));
  const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_xor_si256(ordered, _mm256_set1_epi8(static_cast<char>(0x80))));
#endif
}

// One block of a 16-weight sub-block type (d finite, its 16 signed sub-block scales, its values
// k) -> int8 blocks of `block_columns` (32: one per sub-block pair, 256: one for the block).
inline void sub_blocks_of_16_as_int8(float d, const int8_t* sub_scales, const __m256i* k, size_t block_columns,
                                     uint8_t* q, float* scales) {
  // The reference's steps d x sc (exact |v| extremes: |d sc| x max |k|).
  const __m128i scale_bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sub_scales));
  const __m256 steps[2] = {_mm256_mul_ps(_mm256_set1_ps(d), Avx2Vector::from_s8(scale_bytes)),
                           _mm256_mul_ps(_mm256_set1_ps(d), Avx2Vector::from_s8(_mm_srli_si128(scale_bytes, 8)))};
  __m256i largest[2];
  sub_block_largest(k, largest);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 extremes[2] = {_mm256_mul_ps(_mm256_andnot_ps(sign, steps[0]), _mm256_cvtepi32_ps(largest[0])),
                              _mm256_mul_ps(_mm256_andnot_ps(sign, steps[1]), _mm256_cvtepi32_ps(largest[1]))};
  alignas(32) float step[16], multiplier[16];
  _mm256_store_ps(step, steps[0]);
  _mm256_store_ps(step + 8, steps[1]);
  if (block_columns == 256) {
    const Int8BlockScale s = int8_block_scale(Avx2Vector::reduce_max(_mm256_max_ps(extremes[0], extremes[1])), true);
    scales[0] = s.scale;
    std::fill_n(multiplier, 16, s.multiplier);
  } else {
    // Pairs (2i, 2i + 1): adjacent floats, maxed, then the even ones in order.
    const auto pair_max = [](__m256 e) { return _mm256_max_ps(e, _mm256_shuffle_ps(e, e, 0xb1)); };
    const __m256 pairs = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(pair_max(extremes[0]), pair_max(extremes[1]), 0x88)), 0xd8));
    __m256 scale, pair_multiplier;
    int8_block_scales(pairs, scale, pair_multiplier);
    _mm256_storeu_ps(scales, scale);
    // Each pair's multiplier for both of its sub-blocks.
    _mm256_store_ps(multiplier, _mm256_permutevar8x32_ps(pair_multiplier, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)));
    _mm256_store_ps(multiplier + 8,
                    _mm256_permutevar8x32_ps(pair_multiplier, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)));
  }
  for (size_t i = 0; i < 8; ++i) sub_block_pair_as_int8(k[i], step + 2 * i, multiplier + 2 * i, q + 32 * i);
}

inline void q6k_row_as_int8(const void* src, size_t n, uint8_t* q, float* scales) {
  const auto* blocks = static_cast<const BlockQ6K*>(src);
  for (size_t b = 0; b < n / 256; ++b) {
    const float d = _cvtsh_ss(blocks[b].d);
    if (!std::isfinite(d)) {  // NaN values: the reference's NaN scales and zeros
      row_as_int8_ref(TensorType::q6k, &blocks[b], 256, q + 256 * b, scales + 8 * b);
      continue;
    }
    __m256i k[8];
    q6k_signed_values(blocks[b], k);
    sub_blocks_of_16_as_int8(d, blocks[b].scales, k, 32, q + 256 * b, scales + 8 * b);
  }
}

inline void q3k_row_as_int8(const void* src, size_t n, uint8_t* q, float* scales) {
  const auto* blocks = static_cast<const BlockQ3K*>(src);
  for (size_t b = 0; b < n / 256; ++b) {
    const float d = _cvtsh_ss(blocks[b].d);
    if (!std::isfinite(d)) {
      row_as_int8_ref(TensorType::q3k, &blocks[b], 256, q + 256 * b, scales + b);
      continue;
    }
    int8_t sub_scales[16];
    q3k_unpack_scales(blocks[b].scales, sub_scales);
    __m256i k[8];
    q3k_signed_values(blocks[b], k);
    sub_blocks_of_16_as_int8(d, sub_scales, k, 256, q + 256 * b, scales + b);
  }
}

// This build's requantizers by type, for the x86 int8 tables' rows.
inline RowAsInt8ByType requantizers_by_type() {
  return rows_by_type<RowAsInt8Fn>({
      {TensorType::q8, q8_row_as_int8},  // taken as stored: no instruction set's own
      {TensorType::q4, q4_row_as_int8},
      {TensorType::q4k, q4k_row_as_int8},
      {TensorType::q6k, q6k_row_as_int8},
      {TensorType::q3k, q3k_row_as_int8},
  });
}

}  // namespace
}  // namespace smoe::quant
