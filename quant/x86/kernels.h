// x86 kernels shared between the per-ISA tables: the AVX2 dot products (defined in
// kernels_avx2.cpp, compiled with AVX2 flags; the AVX-512 tables reuse them, every AVX-512 CPU
// has AVX2), and the helpers and block loops below, which each including file compiles with its
// own flags (kernels_avx2.cpp, kernels_avx512_vnni.cpp).
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "quant/formats/block_q4.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/block_q8a.h"
#include "quant/kernels.h"
#include "quant/simd/prefetch.h"
#include "quant/x86/vector.h"

namespace smoe::quant {

void avx2_quantize_q8a(const float* x, BlockQ8A* out, size_t n);
void avx2_quantize_q8k(const float* x, BlockQ8K* out, size_t n);
// Instantiated for both Prefetch variants in kernels_avx2.cpp.
template <Prefetch P> float avx2_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n);
template <Prefetch P> float avx2_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n);
template <Prefetch P> float avx2_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n);
template <Prefetch P> float avx2_dot_q6k(const BlockQ6K* w, const BlockQ8K* a, size_t n);
template <Prefetch P> float avx2_dot_q3k(const BlockQ3K* w, const BlockQ8K* a, size_t n);
template <Prefetch P> void avx2_dot_q4k_x8(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out);
template <Prefetch P>
void avx2_dot_q4k_x8_tokens(const BlockQ4Kx8* w, const BlockQ8K* const* a, size_t tokens, size_t n, float* out);
template <Prefetch P>
void avx2_dot_q8_x8_tokens(const BlockQ8x8* w, const BlockQ8A* const* a, size_t tokens, size_t n, float* out);
template <Prefetch P> void avx2_dot_q8_x8(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out);
void avx2_deinterleave_q4k_x8_rows(const BlockQ4Kx8* blocks, BlockQ4K* const rows[8], size_t n);
void avx2_deinterleave_q8_x8_rows(const BlockQ8x8* blocks, BlockQ8* const rows[8], size_t n);
// quantize_row_q4k_ref with the grid search on eight lanes (q4_grid_search_avx2.cpp).
Q4GridFit avx2_search_q4_grid(const float* x, const float* weight, float lo, float hi);
void avx2_quantize_row_q4k(const float* src, BlockQ4K* dst, size_t n, const float* importance);
// quantize_row_q6k_ref / quantize_row_q3k_ref with the scale search's candidates on the lanes
// (symmetric_scale_search_avx2.cpp).
float avx2_search_symmetric_scale(const float* x, const float* weights, size_t n, int lowest, int highest);
void avx2_quantize_row_q6k(const float* src, BlockQ6K* dst, size_t n, const float* importance);
void avx2_quantize_row_q3k(const float* src, BlockQ3K* dst, size_t n, const float* importance);

// Everything below is file-local to each includer: one shared definition would be compiled
// under one file's flags (AVX-512 instructions could reach the AVX2 table) wherever the
// compiler does not inline it, as in the sanitizer builds at -O0.
namespace {

// The 4 bytes at `four` in every int32 lane (4 activations for a step's weight group, or two
// int16 sums).
inline __m256i broadcast4(const void* four) {
  int32_t value;
  __builtin_memcpy(&value, four, 4);
  return _mm256_set1_epi32(value);
}

// sum_j m_j * activation_sum_j of a q4k block as four int32 partial sums (eight 16-bit products).
inline __m128i q4k_minimum_products(__m128i scales_and_minimums, const BlockQ8K& a) {
  const __m128i minimums = _mm_cvtepu8_epi16(_mm_srli_si128(scales_and_minimums, 8));
  return _mm_madd_epi16(minimums, _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.sums)));
}

// (d, dmin) of a q4k block times the activations' scale, as floats in lanes 0 and 1.
inline __m128 q4k_super_scales(const BlockQ4K& w, const BlockQ8K& a) {
  const __m128i halves = _mm_cvtsi32_si128(static_cast<int>(w.d | (uint32_t{w.dmin} << 16)));
  return _mm_mul_ps(_mm_cvtph_ps(halves), _mm_set1_ps(a.d));
}

// Two q4k blocks' eight 6-bit scales (bytes 0..7 of a 128-bit lane) and minimums (bytes 8..15),
// block w0 in the low lane, w1 in the high one (the same block twice for one): q4k_unpack_scales
// with vector word operations, so the kernels do not store the bytes and reload them (a
// store-forwarding stall per block). Reads 16 bytes at each `scales` (the last 4 are qs bytes,
// ignored).
inline __m256i q4k_scales_and_minimums_x2(const BlockQ4K& w0, const BlockQ4K& w1) {
  const __m256i words = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(w1.scales),
                                            reinterpret_cast<const __m128i*>(w0.scales));  // per lane: w0 w1 w2 -
  const __m256i low6 = _mm256_set1_epi32(0x3f3f3f3f), low4 = _mm256_set1_epi32(0x0f0f0f0f);
  const __m256i low2 = _mm256_set1_epi32(0x03030303);
  // Words 0, 1 of a lane: the low 4 bits of scales 4..7 (w2 & 15) and of minimums 4..7 (w2 >> 4) ...
  const __m256i w2 = _mm256_shuffle_epi32(words, 0xaa);
  const __m256i high_low_bits = _mm256_and_si256(_mm256_srlv_epi32(w2, _mm256_setr_epi32(0, 4, 0, 0, 0, 4, 0, 0)), low4);
  // ... with their top 2 bits from the top bits of w0 (scales) and w1 (minimums).
  const __m256i high_top_bits = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(words, 6), low2), 4);
  const __m256i high = _mm256_or_si256(high_low_bits, high_top_bits);
  return _mm256_unpacklo_epi32(_mm256_and_si256(words, low6), high);  // per lane: scales 0..7, minimums 0..7
}

// A block's 16 signed sub-block scales (16 weights each) as 16-bit words in registers, and
// the vector a 32-weight step needs: scale 2i + 8c of the pair in its low half, 2i + 1 + 8c in
// its high half (c: which 128 weights; i: which 32 of them). One pshufb per step instead of
// two scalar broadcasts and an insert.
struct SubBlockScales {
  __m256i words;      // the 16 scales in order
  __m256i halves[2];  // words 0..7 in both lanes, words 8..15 in both lanes

  explicit SubBlockScales(__m128i scales8) : words(_mm256_cvtepi8_epi16(scales8)) {
    halves[0] = _mm256_permute4x64_epi64(words, 0x44);
    halves[1] = _mm256_permute4x64_epi64(words, 0xee);
  }
  __m256i pair(size_t c, int i) const {
    const __m256i pick = _mm256_setr_epi8(
        char(4 * i), char(4 * i + 1), char(4 * i), char(4 * i + 1), char(4 * i), char(4 * i + 1), char(4 * i),
        char(4 * i + 1), char(4 * i), char(4 * i + 1), char(4 * i), char(4 * i + 1), char(4 * i), char(4 * i + 1),
        char(4 * i), char(4 * i + 1), char(4 * i + 2), char(4 * i + 3), char(4 * i + 2), char(4 * i + 3),
        char(4 * i + 2), char(4 * i + 3), char(4 * i + 2), char(4 * i + 3), char(4 * i + 2), char(4 * i + 3),
        char(4 * i + 2), char(4 * i + 3), char(4 * i + 2), char(4 * i + 3), char(4 * i + 2), char(4 * i + 3));
    return _mm256_shuffle_epi8(halves[c], pick);
  }
};

// q3k's 16 six-bit scales (stored + 32) unpacked in registers: q3k_unpack_scales with byte
// vector operations.
inline __m128i q3k_scales(const uint8_t* packed) {
  const __m128i low_bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed));  // scales[0..7]
  const __m128i nibble = _mm_set1_epi8(0x0f);
  const __m128i low4 =
      _mm_unpacklo_epi64(_mm_and_si128(low_bytes, nibble), _mm_and_si128(_mm_srli_epi16(low_bytes, 4), nibble));
  uint32_t high_word;
  __builtin_memcpy(&high_word, packed + 8, 4);
  // Scale s takes bits 2 (s / 4) of byte s % 4 of the high word: lane k of four bytes shifts by 2k.
  const __m128i high2 = _mm_and_si128(
      _mm_srlv_epi32(_mm_set1_epi32(static_cast<int>(high_word)), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
  return _mm_sub_epi8(_mm_or_si128(low4, _mm_slli_epi16(high2, 4)), _mm_set1_epi8(32));
}

// sum_j scale_j * (sum of activations j*16 .. j*16+15) as eight int32 partial sums.
inline __m256i zero_point_products(const SubBlockScales& scales, const BlockQ8K& a) {
  return _mm256_madd_epi16(scales.words, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sums16)));
}

// The sub-block scales of a q6k block (stored as int8) and of a q3k block (packed 6-bit).
inline SubBlockScales sub_block_scales(const BlockQ6K& w) {
  return SubBlockScales(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
}
inline SubBlockScales sub_block_scales(const BlockQ3K& w) { return SubBlockScales(q3k_scales(w.scales)); }

// The super-block loop of the 16-weight sub-block types (q6k, q3k): per block its sub-block
// scales, `scaled_dot(block, activations, scales)` = sum_j sc_j (v_j . a_j) over its unsigned
// values v as eight int32 sums (pass a lambda: a function pointer may be called, not inlined),
// the zero point (v - 2^kZeroShift) taken off once (zero_point_products), the f16 super-scale.
template <Prefetch P, int kZeroShift, class Block, class ScaledDot>
inline float dot_sub_blocks_of_16(const Block* w, const BlockQ8K* a, size_t n, ScaledDot scaled_dot) {
  __m256 total = _mm256_setzero_ps();
  for (size_t b = 0; b < n / 256; ++b) {
    prefetch_ahead<P>(w + b, int((sizeof(Block) + 63) / 64));
    const SubBlockScales scales = sub_block_scales(w[b]);
    const __m256i dot = _mm256_sub_epi32(scaled_dot(w[b], a[b], scales),
                                         _mm256_slli_epi32(zero_point_products(scales, a[b]), kZeroShift));
    total = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w[b].d) * a[b].d), _mm256_cvtepi32_ps(dot), total);
  }
  return Avx2Vector::reduce(total);
}

// One q4 block's nibbles, in the order of its activations: the 16 bytes in both 128-bit lanes,
// shifted by 0 in the low lane (weights 0..15) and by 4 in the high one (weights 16..31).
inline __m256i q4_nibbles(const BlockQ4& w) {
  const __m256i packed = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(packed, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

// The scalars of four q4 blocks and their activations, gathered once for the four: `scales`
// holds d_k a_k.d and m_k a_k.d interleaved (the blocks' (d, m) halves converted by one
// vcvtph2ps; the activations' (d, sum) pairs, adjacent in BlockQ8A, loaded as four 64-bit
// halves), `activation_sums` each sum(a_k) twice. FMA-ing the two gives the four minimum terms
// m_k a_k.d sum(a_k) in the odd lanes; the even ones collect d_k a_k.d sum(a_k), which odd_lanes
// drops by a blend (no arithmetic, so even an inf there cannot reach the result).
struct Q4QuadScales {
  static_assert(offsetof(BlockQ4, m) == offsetof(BlockQ4, d) + 2 &&
                    offsetof(BlockQ8A, sum) == offsetof(BlockQ8A, d) + 4,
                "the paired loads below");
  __m256 scales;
  __m256 activation_sums;

  Q4QuadScales(const BlockQ4* w, const BlockQ8A* a) {
    int32_t headers[4];
    for (int k = 0; k < 4; ++k) __builtin_memcpy(&headers[k], &w[k].d, 4);
    const __m256 scales_and_minimums = _mm256_cvtph_ps(_mm_setr_epi32(headers[0], headers[1], headers[2], headers[3]));
    // (a.d, a.sum) of blocks k and k + 1; _mm_loadl_epi64 is an unaligned, aliasing-safe load.
    const auto pair = [a](int k) {
      return _mm_castsi128_ps(_mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&a[k].d)),
                                                 _mm_loadl_epi64(reinterpret_cast<const __m128i*>(&a[k + 1].d))));
    };
    const __m256 activation_scalars = _mm256_set_m128(pair(2), pair(0));  // d0 s0 d1 s1 | d2 s2 d3 s3
    scales = _mm256_mul_ps(scales_and_minimums, _mm256_moveldup_ps(activation_scalars));
    activation_sums = _mm256_cvtepi32_ps(_mm256_castps_si256(_mm256_movehdup_ps(activation_scalars)));
  }
  // d_k a_k.d in every lane.
  __m256 scale(int k) const { return _mm256_permutevar8x32_ps(scales, _mm256_set1_epi32(2 * k)); }
  static __m256 odd_lanes(__m256 v) { return _mm256_blend_ps(_mm256_setzero_ps(), v, 0xaa); }
};

// q4 x q8a four blocks a step, for the AVX2 and VNNI tables: the per-block scalars gathered once
// for the four (Q4QuadScales), per block the nibbles (q4_nibbles) and
// `block_products(nibbles, activations)`, the block's integer products as eight float partial
// sums (pass a lambda: a function pointer was called, not inlined); blocks past the last four go
// one at a time.
template <Prefetch P, class BlockProducts>
inline float dot_q4_quads(const BlockQ4* w, const BlockQ8A* a, size_t n, BlockProducts block_products) {
  const auto products = [&](size_t b) {
    return block_products(q4_nibbles(w[b]), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs)));
  };
  __m256 totals[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};  // two chains: the FMA latency
  __m256 minimum_terms = _mm256_setzero_ps();
  const size_t blocks = n / 32;
  size_t b = 0;
  for (; b + 4 <= blocks; b += 4) {
    prefetch_ahead<P>(w + b, 2);  // 80 bytes
    const Q4QuadScales quad(w + b, a + b);
    minimum_terms = _mm256_fmadd_ps(quad.scales, quad.activation_sums, minimum_terms);
    for (int k = 0; k < 4; ++k) totals[k & 1] = _mm256_fmadd_ps(quad.scale(k), products(b + k), totals[k & 1]);
  }
  float rest = 0.0f;
  for (; b < blocks; ++b) {
    rest += a[b].d * (_cvtsh_ss(w[b].d) * Avx2Vector::reduce(products(b)) + _cvtsh_ss(w[b].m) * float(a[b].sum));
  }
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(totals[0], totals[1]), Q4QuadScales::odd_lanes(minimum_terms));
  return Avx2Vector::reduce(sum) + rest;
}

// hmask's bit k (0..7) of every byte moved to bit 2 by one 16-bit shift: q3k's high bit of step
// k (weights 32k .. 32k + 31) where it goes above the value's two low bits. The other bits, and
// those crossing into the neighbouring byte, are for the caller's mask to drop.
inline __m256i q3k_high_bits_at_2(__m256i hmask, int k) {
  const int shift = k - 2;
  return shift > 0 ? _mm256_srli_epi16(hmask, shift) : shift < 0 ? _mm256_slli_epi16(hmask, -shift) : hmask;
}

// The 3-bit values (0..7) of q3k's step j of half c (weights 128c + 32j .. + 31): bits 2j..2j+1
// of that half's qs bytes `low`, plus 4 where bit 4c + j of `hmask` is set. (Under AVX-512 flags
// GCC folds the and/or into one vpternlog.)
inline __m256i q3k_values(__m256i low, __m256i hmask, int c, int j) {
  const __m256i low_bits = _mm256_and_si256(_mm256_srli_epi16(low, 2 * j), _mm256_set1_epi8(3));
  return _mm256_or_si256(low_bits, _mm256_and_si256(q3k_high_bits_at_2(hmask, 4 * c + j), _mm256_set1_epi8(4)));
}

// q8 x q8a four blocks a step: their f16 scales converted together (one vcvtph2ps instead of
// four scalar conversions). `block_products(w, a)` returns one block's products as eight float
// partial sums.
template <Prefetch P, class BlockProducts>
inline float dot_q8_quads(const BlockQ8* w, const BlockQ8A* a, size_t n, BlockProducts block_products) {
  __m256 totals[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};  // two chains: the FMA latency
  const size_t blocks = n / 32;
  size_t b = 0;
  for (; b + 4 <= blocks; b += 4) {
    prefetch_ahead<P>(w + b, 3);  // 136 bytes
    __m128i halves = _mm_cvtsi32_si128(w[b].d);
    halves = _mm_insert_epi16(halves, w[b + 1].d, 1);
    halves = _mm_insert_epi16(halves, w[b + 2].d, 2);
    halves = _mm_insert_epi16(halves, w[b + 3].d, 3);
    const __m128 scales = _mm_mul_ps(_mm_cvtph_ps(halves), _mm_setr_ps(a[b].d, a[b + 1].d, a[b + 2].d, a[b + 3].d));
    const __m256 scales8 = _mm256_castps128_ps256(scales);
    for (int k = 0; k < 4; ++k) {
      const __m256 scale = _mm256_permutevar8x32_ps(scales8, _mm256_set1_epi32(k));
      totals[k & 1] = _mm256_fmadd_ps(scale, block_products(w[b + k], a[b + k]), totals[k & 1]);
    }
  }
  for (; b < blocks; ++b) {
    const __m256 scale = _mm256_set1_ps(_cvtsh_ss(w[b].d) * a[b].d);
    totals[0] = _mm256_fmadd_ps(scale, block_products(w[b], a[b]), totals[0]);
  }
  return Avx2Vector::reduce(_mm256_add_ps(totals[0], totals[1]));
}

// q4k x q8k two blocks a step, on 256-bit registers: the two blocks' scales are unpacked
// together (one block per 128-bit lane), as are their f16 super-scales and their minimum terms,
// which were a third of the single-block kernel's instructions. `block_dot(w, a, scales)`
// returns sum_j sc_j * (q_j . a_j) of one block as eight float partial sums, given the block's
// scale bytes (q4k_scales_and_minimums_x2) in both 128-bit lanes. The last block of an odd count
// goes alone.
template <Prefetch P, class BlockDot>
inline float dot_q4k_pairs(const BlockQ4K* w, const BlockQ8K* a, size_t n, BlockDot block_dot) {
  const size_t blocks = n / 256;
  // Minimum bytes 8..15 of each lane zero-extended to int16.
  const __m256i pick_minimums = _mm256_setr_epi8(8, -128, 9, -128, 10, -128, 11, -128, 12, -128, 13, -128, 14, -128, 15,
                                                 -128, 8, -128, 9, -128, 10, -128, 11, -128, 12, -128, 13, -128, 14, -128,
                                                 15, -128);
  __m256 total = _mm256_setzero_ps(), minimum_terms = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    prefetch_ahead<P>(w + b, 5);  // 288 bytes
    const __m256i unpacked = q4k_scales_and_minimums_x2(w[b], w[b + 1]);
    uint32_t halves0, halves1;  // (d, dmin) of each block, f16
    __builtin_memcpy(&halves0, &w[b].d, 4);
    __builtin_memcpy(&halves1, &w[b + 1].d, 4);
    const __m128 activation_scales = _mm_movelh_ps(_mm_set1_ps(a[b].d), _mm_set1_ps(a[b + 1].d));
    // d0 a0, dmin0 a0, d1 a1, dmin1 a1
    const __m128 super_scales = _mm_mul_ps(
        _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(static_cast<int>(halves0)), static_cast<int>(halves1), 1)),
        activation_scales);
    total = _mm256_fmadd_ps(_mm256_set1_ps(_mm_cvtss_f32(super_scales)),
                            block_dot(w[b], a[b], _mm256_permute4x64_epi64(unpacked, 0x44)), total);
    total = _mm256_fmadd_ps(_mm256_set1_ps(_mm_cvtss_f32(_mm_movehl_ps(super_scales, super_scales))),
                            block_dot(w[b + 1], a[b + 1], _mm256_permute4x64_epi64(unpacked, 0xee)), total);
    const __m256i sums = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(a[b + 1].sums),
                                             reinterpret_cast<const __m128i*>(a[b].sums));
    const __m256i minimum_products = _mm256_madd_epi16(_mm256_shuffle_epi8(unpacked, pick_minimums), sums);
    const __m256 minimum_scales =
        _mm256_permutevar8x32_ps(_mm256_castps128_ps256(super_scales), _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3));
    minimum_terms = _mm256_fmadd_ps(minimum_scales, _mm256_cvtepi32_ps(minimum_products), minimum_terms);
  }
  if (b < blocks) {
    const __m256i unpacked = q4k_scales_and_minimums_x2(w[b], w[b]);
    const __m128 super_scales = q4k_super_scales(w[b], a[b]);  // d a, dmin a
    total = _mm256_fmadd_ps(_mm256_set1_ps(_mm_cvtss_f32(super_scales)), block_dot(w[b], a[b], unpacked), total);
    const __m128 minimums = _mm_mul_ps(_mm_shuffle_ps(super_scales, super_scales, 0x55),
                                       _mm_cvtepi32_ps(q4k_minimum_products(_mm256_castsi256_si128(unpacked), a[b])));
    minimum_terms = _mm256_add_ps(minimum_terms, _mm256_zextps128_ps256(minimums));
  }
  return Avx2Vector::reduce(_mm256_sub_ps(total, minimum_terms));
}

// A q4k_x8 block's 6-bit scales and minimums unpacked (block_q4k_x8.h's S and M, in its
// orders): scales[0] = S[0..31] (sub-blocks 0..3), scales[1] = S[32..63], minimums[0] =
// M[0..31], minimums[1] = M[32..63]. 16-bit shifts; the bits crossing into a neighbouring byte
// are masked off.
struct Q4kx8Scales {
  __m256i scales[2], minimums[2];
};
inline Q4kx8Scales unpack_q4k_x8_scales(const BlockQ4Kx8& block) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
  const auto load = [](const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); };
  const __m256i scales_low = load(block.scales_low), minimums_low = load(block.minimums_low);
  const __m256i high_bits = load(block.high_bits);
  return {
      {_mm256_or_si256(_mm256_and_si256(scales_low, low4), _mm256_and_si256(_mm256_slli_epi16(high_bits, 4), bits45)),
       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(scales_low, 4), low4),
                       _mm256_and_si256(_mm256_slli_epi16(high_bits, 2), bits45))},
      {_mm256_or_si256(_mm256_and_si256(minimums_low, low4), _mm256_and_si256(high_bits, bits45)),
       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(minimums_low, 4), low4),
                       _mm256_and_si256(_mm256_srli_epi16(high_bits, 2), bits45))}};
}

// The block loop of the q4k_x8 kernels (eight interleaved rows, block_q4k_x8.h): per block the
// 6-bit scales and minimums of all eight rows unpacked in four vectors, the minimum terms as
// four multiply-adds of the minimums against pairs of the activations' sub-block sums, the
// super-scales as one f16 conversion per eight rows. The instruction set's part: per 64-weight
// chunk, `step(low, high, packed, a_low, a_high)` for each of its eight 32-byte groups (4
// weights of each row, both sub-blocks' nibbles; a_low, a_high point to the 4 activations of
// each sub-block, which the step broadcasts to every row) adds into the two sub-blocks'
// accumulators, `step.add` adds two accumulators (of the step's lane width),
// `step.add_pair_products(sum, pairs, two)` adds to each int32 lane of `sum` the products of its
// two int16 `pairs` with the two int16 at `two` (the activations' sums of two sub-blocks), and
// `scale(low, high, scales_low, scales_high)` turns them, with the two sub-blocks' scales per
// row (int32), into 16 x the chunk's scaled sums per row (int32 lane r); `Step::kLoadGroupOnce`
// keeps each group's load in a register (below).
template <Prefetch P, size_t T, class Step, class Scale>
inline void dot_q4k_x8_blocks(const BlockQ4Kx8* w, const BlockQ8K* const* a, size_t n, float* out, Step step,
                              Scale scale) {
  const auto load = [](const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); };
  // T tokens' activations against the same rows: the weights' loads, masks and scales are
  // shared; each token's arithmetic is the one-token kernel's, in the same order.
  __m256 total[T], minimum_terms[T];
  for (size_t t = 0; t < T; ++t) total[t] = minimum_terms[t] = _mm256_setzero_ps();
  for (size_t b = 0; b < n / BlockQ4Kx8::kElements; ++b) {
    const BlockQ4Kx8& block = w[b];
    const Q4kx8Scales unpacked = unpack_q4k_x8_scales(block);
    // sum_j m_j * sums_j per row: each 16 bytes of M hold sub-blocks 2p and 2p + 1 of each row
    // side by side, widened to int16 once for all the tokens.
    __m256i minimum_pairs[4];
    for (size_t p = 0; p < 4; ++p) {
      const __m256i minimums = unpacked.minimums[p / 2];
      minimum_pairs[p] =
          _mm256_cvtepu8_epi16(p % 2 ? _mm256_extracti128_si256(minimums, 1) : _mm256_castsi256_si128(minimums));
    }
    __m256i minimum_sums[T], sums[T];
#pragma GCC unroll 4
    for (size_t t = 0; t < T; ++t) {
      minimum_sums[t] = sums[t] = _mm256_setzero_si256();
      for (size_t p = 0; p < 4; ++p) {
        minimum_sums[t] = step.add_pair_products(minimum_sums[t], minimum_pairs[p], a[t][b].sums + 2 * p);
      }
    }
    for (size_t c = 0; c < 4; ++c) {
      // A quarter of the block's 18 lines per chunk, spread out as the q4k kernels' requests are
      // (all 18 at the block's start measured slower from DRAM), and 6 KiB further ahead than
      // theirs: 8 KiB into L1, 10 KiB into L2, since eight rows' blocks arrive as one stream
      // that outruns the row kernels' distances (matvec/q4k_x8, docs/PERFORMANCE.md).
      prefetch_ahead<P>(reinterpret_cast<const char*>(&block) + 288 * c + 6144, 5);
      // S[16c..16c + 15]: sub-block 2c's eight rows, then 2c + 1's.
      const __m128i chunk_scales =
          c % 2 ? _mm256_extracti128_si256(unpacked.scales[c / 2], 1) : _mm256_castsi256_si128(unpacked.scales[c / 2]);
      const uint8_t* qs = block.qs + 256 * c;
      // Each accumulator is a chain of dependent multiply-adds: one or two tokens leave too few
      // chains to keep both of the vector units' multiply-add pipes busy (their latency is
      // several cycles), so they get two per sub-block, even and odd groups. Integer sums: the
      // result does not depend on the split.
      constexpr size_t kChains = T <= 2 ? 2 : 1;
      __m256i low[T][kChains], high[T][kChains];
      for (size_t t = 0; t < T; ++t) {
        for (size_t k = 0; k < kChains; ++k) low[t][k] = high[t][k] = _mm256_setzero_si256();
      }
#pragma GCC unroll 8
      for (size_t g = 0; g < 8; ++g) {
        __m256i packed = load(qs + 32 * g);
        // Held in a register where the step says so (VNNI): GCC otherwise folds the load into
        // both of the step's masks (two loads of the same bytes per group), and there the load
        // ports are as busy as the multiply pipes (one broadcast load per vpdpbusd): 0.8x the
        // time at one and two tokens, 0.9x at three and four, with the weights in L2. The AVX2
        // step (no broadcast operands) measured 1-3% slower with it.
        if constexpr (Step::kLoadGroupOnce) __asm__("" : "+v"(packed));
#pragma GCC unroll 4
        for (size_t t = 0; t < T; ++t) {
          const int8_t* chunk_activations = a[t][b].qs + 64 * c;
          step(low[t][g % kChains], high[t][g % kChains], packed, chunk_activations + 4 * g,
               chunk_activations + 32 + 4 * g);
        }
      }
      const __m256i scales_low = _mm256_cvtepu8_epi32(chunk_scales);
      const __m256i scales_high = _mm256_cvtepu8_epi32(_mm_srli_si128(chunk_scales, 8));
#pragma GCC unroll 4
      for (size_t t = 0; t < T; ++t) {
        __m256i chunk_low = low[t][0], chunk_high = high[t][0];
        if constexpr (kChains == 2) {
          chunk_low = step.add(chunk_low, low[t][1]);
          chunk_high = step.add(chunk_high, high[t][1]);
        }
        sums[t] = _mm256_add_epi32(sums[t], scale(chunk_low, chunk_high, scales_low, scales_high));
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.d)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.dmin)));
#pragma GCC unroll 4
    for (size_t t = 0; t < T; ++t) {
      const __m256 activation_scale = _mm256_set1_ps(a[t][b].d);
      total[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_mul_ps(activation_scale, _mm256_set1_ps(1.0f / 16))),
                                 _mm256_cvtepi32_ps(sums[t]), total[t]);
      minimum_terms[t] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, activation_scale), _mm256_cvtepi32_ps(minimum_sums[t]),
                                         minimum_terms[t]);
    }
  }
  for (size_t t = 0; t < T; ++t) _mm256_storeu_ps(out + 8 * t, _mm256_sub_ps(total[t], minimum_terms[t]));
}

// The prefetch variant for T tokens at a time: from two tokens on, software requests into L2
// only. Three or more tokens make the kernel slower than memory, and the hardware prefetchers
// alone then fall behind (1 GiB of q4k_x8 rows at four tokens: 60-63 ms with prefetch
// instructions, 117 without; `smoe-bench-kernels --benchmark_filter=stream-tokens`). Two tokens
// keep up alone on one core, but not beside a second core's stream: in the expert passes of
// sequences decoded together a two-token block took 140-147 reference cycles, 108-115 with the
// L2 requests (one token: 96-103). Into L2, not L1: the tokens' activations (4.5 KiB per 4096
// columns and token) fill much of L1, and weights requested 8 KiB ahead into L1 evicted them
// before their next use (four tokens from DRAM: 142-148 cycles a block with L2 requests,
// 177-188 with L1 ones). One token keeps the hardware prefetchers: one stream's decoding was 7%
// slower with L2 requests. Figures and commands: docs/PERFORMANCE.md (Zen 4, the only core it
// was measured on; the activations' footprint is the same elsewhere). Machines whose plan
// prefers software prefetch keep it, L1 requests included, at one token.
template <Prefetch P, size_t T>
inline constexpr Prefetch kTokensPrefetch = T >= 2 ? Prefetch::l2_only : P;

// dot_q4k_x8_blocks for `tokens` activation rows, up to four at a time: out[8 t + r].
template <Prefetch P, class Step, class Scale>
inline void dot_q4k_x8_token_blocks(const BlockQ4Kx8* w, const BlockQ8K* const* a, size_t tokens, size_t n, float* out,
                                    Step step, Scale scale) {
  size_t t = 0;
  for (; t + 4 <= tokens; t += 4) dot_q4k_x8_blocks<kTokensPrefetch<P, 4>, 4>(w, a + t, n, out + 8 * t, step, scale);
  switch (tokens - t) {
    case 3: return dot_q4k_x8_blocks<kTokensPrefetch<P, 3>, 3>(w, a + t, n, out + 8 * t, step, scale);
    case 2: return dot_q4k_x8_blocks<kTokensPrefetch<P, 2>, 2>(w, a + t, n, out + 8 * t, step, scale);
    case 1: return dot_q4k_x8_blocks<P, 1>(w, a + t, n, out + 8 * t, step, scale);
    default: return;
  }
}

// The block loop of the q8_x8 kernels (eight interleaved rows, block_q8_x8.h): per block,
// `step(sum, packed, activations)` for each of its eight 32-byte groups (4 weights of each row;
// the step broadcasts the 4 activations at `activations` to every row's lane) adds the group's
// products into the rows' int32 lanes of `sum` (per token two accumulators, even and odd groups,
// for the multiply latency; one where eight tokens leave chains enough); the eight rows' f16
// scales converted by one instruction and applied by one multiply-add. With
// kWeightsOffset the steps multiply the weights plus 128 (vpdpbusd needs one unsigned operand,
// and w ^ 0x80 = w + 128 is one instruction that handles -128 too), so 128 x the activations'
// sum comes off each row's sum.
template <Prefetch P, bool kWeightsOffset, size_t T, class Step>
inline void dot_q8_x8_blocks(const BlockQ8x8* w, const BlockQ8A* const* a, size_t n, float* out, Step step) {
  // T tokens against the same rows (as dot_q4k_x8_blocks): shared weight loads and scales,
  // each token's arithmetic the one-token kernel's.
  __m256 total[T];
  for (size_t t = 0; t < T; ++t) total[t] = _mm256_setzero_ps();
  for (size_t b = 0; b < n / BlockQ8x8::kElements; ++b) {
    const BlockQ8x8& block = w[b];
    // 272 bytes, 6 KiB further ahead than the row kernels (q4k_x8's distances): alone the
    // kernel measured the same either way, but whole decoding of a q8 file ran up to 2% faster
    // (docs/PERFORMANCE.md).
    prefetch_ahead<P>(reinterpret_cast<const char*>(&block) + 6144, 5);
    // Integer sums: the result does not depend on the split.
    constexpr size_t kChains = T >= 8 ? 1 : 2;
    __m256i sums[T][kChains];
    for (size_t t = 0; t < T; ++t) {
      for (size_t k = 0; k < kChains; ++k) sums[t][k] = _mm256_setzero_si256();
    }
#pragma GCC unroll 8
    for (size_t g = 0; g < 8; ++g) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * g));
#pragma GCC unroll 8
      for (size_t t = 0; t < T; ++t) sums[t][g % kChains] = step(sums[t][g % kChains], packed, a[t][b].qs + 4 * g);
    }
    const __m256 weight_scales = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.d)));
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) {
      const BlockQ8A& activations = a[t][b];
      __m256i dot = sums[t][0];
      if constexpr (kChains == 2) dot = _mm256_add_epi32(dot, sums[t][1]);
      if constexpr (kWeightsOffset) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(activations.sum * 128));
      const __m256 scales = _mm256_mul_ps(weight_scales, _mm256_set1_ps(activations.d));
      total[t] = _mm256_fmadd_ps(scales, _mm256_cvtepi32_ps(dot), total[t]);
    }
  }
  for (size_t t = 0; t < T; ++t) _mm256_storeu_ps(out + 8 * t, total[t]);
}

// dot_q8_x8_blocks for `tokens` activation rows, up to Step::kTokensPerPass (4 or 8) at a time:
// out[8 t + r].
template <Prefetch P, bool kWeightsOffset, class Step>
inline void dot_q8_x8_token_blocks(const BlockQ8x8* w, const BlockQ8A* const* a, size_t tokens, size_t n, float* out,
                                   Step step) {
  size_t t = 0;
  if constexpr (Step::kTokensPerPass >= 8) {
    for (; t + 8 <= tokens; t += 8) {
      dot_q8_x8_blocks<kTokensPrefetch<P, 8>, kWeightsOffset, 8>(w, a + t, n, out + 8 * t, step);
    }
  }
  for (; t + 4 <= tokens; t += 4) dot_q8_x8_blocks<kTokensPrefetch<P, 4>, kWeightsOffset, 4>(w, a + t, n, out + 8 * t, step);
  switch (tokens - t) {
    case 3: return dot_q8_x8_blocks<kTokensPrefetch<P, 3>, kWeightsOffset, 3>(w, a + t, n, out + 8 * t, step);
    case 2: return dot_q8_x8_blocks<kTokensPrefetch<P, 2>, kWeightsOffset, 2>(w, a + t, n, out + 8 * t, step);
    case 1: return dot_q8_x8_blocks<P, kWeightsOffset, 1>(w, a + t, n, out + 8 * t, step);
    default: return;
  }
}

}  // namespace
}  // namespace smoe::quant
