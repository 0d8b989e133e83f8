// q4k rows requantized to int8 without decoding them to f32, for the int8 prompt products: the
// bytes and scales of q4k_row_as_int8_ref (decode, then requantize per block of 256), bit for
// bit. Compiled into q4k_as_int8_avx512.cpp (AVX-512 F/BW/VL) and q4k_as_int8_avx2.cpp (AVX2),
// file-local to each (see kernels_x86.h), both with F16C and -ffp-contract=off: each value is
// step x q - offset rounded twice, as the reference rounds it.
//
// Why it is exact and faster: within a sub-block of 32 weights a q4k value is
// v(q) = (d sc) q - dmin m, monotonic in the nibble q, so
// - the block's largest |v| is the largest |v| at each sub-block's smallest and largest nibble
//   (two byte reductions per sub-block, not 256 float comparisons), and
// - each sub-block's int8 values are a table of its 16 possible nibbles: 16 float
//   conversions, then one pshufb per 32 weights (not 32 conversions, stores and loads).
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "quant/block_q4k.h"
#include "quant/gemm_int8.h"
#include "quant/vector_x86.h"

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

inline void q4k_row_as_int8(const void* src, size_t n, uint8_t* q, float* scales) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  for (size_t b = 0; b < n / 256; ++b) {
    const BlockQ4K& block = blocks[b];
    uint8_t* out = q + 256 * b;
    const float d = _cvtsh_ss(block.d), dmin = _cvtsh_ss(block.dmin);
    if (!std::isfinite(d) || !std::isfinite(dmin)) {  // NaN values: the reference's NaN scale and zeros
      q4k_row_as_int8_ref(&block, 256, out, scales + b);
      continue;
    }
    uint8_t unpacked[16];  // 8 scales, 8 minimums
    q4k_unpack_scales(block.scales, unpacked);
    __m256i sub_blocks[8];  // sub-block 2c: chunk c's low nibbles; 2c + 1: its high ones
    for (size_t c = 0; c < 4; ++c) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
      sub_blocks[2 * c] = _mm256_and_si256(packed, low_nibbles);
      sub_blocks[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
    }
    // The reference's steps d x sc_j and offsets dmin x m_j, then v at each sub-block's extremes.
    const __m128i scale_bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(unpacked));
    const __m256 steps = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(scale_bytes)));
    const __m256 offsets =
        _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scale_bytes, 8))));
    const auto value = [&](__m256i nibble) {
      return _mm256_sub_ps(_mm256_mul_ps(steps, _mm256_cvtepi32_ps(nibble)), offsets);
    };
    const auto smallest = [](__m256i x, __m256i y) { return _mm256_min_epu8(x, y); };
    const auto largest = [](__m256i x, __m256i y) { return _mm256_max_epu8(x, y); };
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 extremes = _mm256_max_ps(_mm256_andnot_ps(sign, value(reduce_sub_blocks(sub_blocks, smallest))),
                                          _mm256_andnot_ps(sign, value(reduce_sub_blocks(sub_blocks, largest))));
    const Int8BlockScale s = int8_block_scale(Avx2Vector::reduce_max(extremes), true);
    scales[b] = s.scale;
    if (s.multiplier == 0.0f) {  // all zeros, or too small for a finite multiplier: zeros
      std::memset(out, 128, 256);
      continue;
    }
    alignas(32) float step[8], offset[8];
    _mm256_store_ps(step, steps);
    _mm256_store_ps(offset, offsets);
    for (size_t j = 0; j < 8; ++j) {
      const __m128i table = sub_block_table(step[j], offset[j], s.multiplier);
      const __m256i bytes = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), sub_blocks[j]);
      // Sub-block 2c holds columns 64c .. 64c + 31, 2c + 1 the next 32.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * j), bytes);
    }
  }
}

}  // namespace
}  // namespace smoe::quant
