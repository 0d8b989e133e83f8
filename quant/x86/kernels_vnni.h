// The VNNI dot kernels on 256-bit registers, compiled into two tables: "avx512-vnni"
// (kernels_avx512_vnni.cpp: the EVEX vpdpbusd of AVX512-VNNI with AVX512-VL) and "avx2-vnni"
// (kernels_avx2_vnni.cpp: the same instructions VEX-encoded, AVX-VNNI, which Intel's client cores
// since Alder Lake have without AVX-512). Everything here is file-local to each includer, so each
// compiles under its own flags. Decoding streams every weight once, so a kernel must turn bytes
// into products well faster than one core reads DRAM, or the two costs add up instead of
// overlapping. Here:
// - q4k: two blocks a step, on 256-bit registers. Each 64-weight chunk is two vpdpbusd (nibbles
//   x activations, one sub-block each, int32 sums of 4 products that fit in int16), packed to
//   int16 and multiplied by the two sub-block scales in one vpdpwssd: 3 multiplies per 64
//   weights instead of 4 and half the scale shuffles of madd-then-scale; the two blocks' scales,
//   super-scales and minimum terms are handled together (dot_q4k_pairs, shared with the AVX2
//   kernel): the per-block work was a third of the kernel's instructions (x1.16 in cache
//   against one block a step, docs/PERFORMANCE.md). 512-bit versions ran slower: on Intel cores
//   512-bit multiplies issue on one port, 256-bit ones on two; Zen 4 splits them in halves.
// - q8: |w| x sign(a, w) in one vpdpbusd per block instead of maddubs + madd, four blocks a
//   step (dot_q8_quads, shared with the AVX2 kernel): one block a step, vpdpbusd gained nothing
//   over AVX2, the per-block scales being the cost; four a step, x1.33 in cache
//   (docs/PERFORMANCE.md).
// - q4 (32-weight blocks with an f16 scale and minimum): four blocks a step (dot_q4_quads, shared
//   with the AVX2 kernel: the per-block scalars gathered once for the four) with one vpdpbusd
//   per block instead of maddubs + madd: about 1.6x the one-block AVX2 kernel in cache;
//   gathering the scalars by permutes of 64-byte loads measured slower.
// - q6k, q3k (sub-blocks of 16 with their own scales): vpdpbusd per 32 weights, the sums of two
//   steps packed to int16 and scaled by one vpdpwssd (add_scaled_step_pair), as for q4k: 3
//   multiplies per 64 weights instead of 4; q6k's values by one vpternlog select of nibble and
//   high bits, q3k's (q3k_values, shared with AVX2) by the one vpternlog GCC folds its and/or
//   into (faster than adding 4 under a byte mask). Both beat the AVX2 kernels, q3k most (about
//   x1.5 in cache, docs/PERFORMANCE.md). q3k stays compute-bound: its loads and vpdpbusd
//   alone take a third of its time.
// Each function matches its scalar reference (block_q8a.cpp) up to float summation order;
// test_kernels.cpp checks it for every table the CPU runs.
#pragma once

#include <immintrin.h>

#include "quant/formats/untyped_kernels.h"
#include "quant/kernels.h"
#include "quant/x86/kernels.h"

namespace smoe::quant {
namespace {

// vpdpbusd (u8 x s8, four products per int32 lane, added) and vpdpwssd (s16 x s16, two per
// lane): EVEX under AVX512-VNNI + VL, VEX (AVX-VNNI) otherwise; the same results.
inline __m256i dpbusd(__m256i sum, __m256i u8, __m256i s8) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(sum, u8, s8);
#else
  return _mm256_dpbusd_avx_epi32(sum, u8, s8);
#endif
}
// dpbusd with the 4 signed bytes at `four` broadcast to every lane. EVEX encodes the broadcast
// in the multiply's memory operand ({1to8}: no instruction of its own); GCC does not fold
// _mm256_set1_epi32 of a load into it, and the separate broadcasts competed with the
// multiply-adds for the vector pipes (several tokens per weight load: about x1.2 in cache).
inline __m256i dpbusd_broadcast(__m256i sum, __m256i u8, const int8_t* four) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  struct Four {
    int8_t bytes[4];
  };
  __asm__("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(sum) : "v"(u8), "m"(*reinterpret_cast<const Four*>(four)));
  return sum;
#else
  return dpbusd(sum, u8, broadcast4(four));
#endif
}
inline __m256i dpwssd(__m256i sum, __m256i a, __m256i b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpwssd_epi32(sum, a, b);
#else
  return _mm256_dpwssd_avx_epi32(sum, a, b);
#endif
}
// dpwssd with the 2 int16 at `two` broadcast to every lane, by the memory operand under EVEX
// as dpbusd_broadcast (the q4k_x8 kernels' minimum terms: 1 instruction per token and pair of
// sub-blocks instead of a broadcast, a madd and an add). With the weights in L2 the four-token
// kernel took 0.85x the time, two and three tokens 0.92x; with them in L1
// (`smoe-bench-kernels --benchmark_filter=dot-tokens/q4k_x8`) and streamed from DRAM
// (`stream-tokens/q4k_x8`) the times did not change beyond the noise.
inline __m256i dpwssd_broadcast(__m256i sum, __m256i s16, const int16_t* two) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  struct Two {
    int16_t values[2];
  };
  __asm__("vpdpwssd %2%{1to8%}, %1, %0" : "+v"(sum) : "v"(s16), "m"(*reinterpret_cast<const Two*>(two)));
  return sum;
#else
  return dpwssd(sum, s16, broadcast4(two));
#endif
}

// The bits of `a` where `mask` is set, of `b` elsewhere: one vpternlog with AVX512-VL, and /
// andnot / or without.
inline __m256i select_bits(__m256i mask, __m256i a, __m256i b) {
#if defined(__AVX512VL__)
  return _mm256_ternarylogic_epi32(a, b, mask, 0xe4);
#else
  return _mm256_or_si256(_mm256_and_si256(mask, a), _mm256_andnot_si256(mask, b));
#endif
}

// One q8 block: |w| x (a with w's sign) in int32 lanes (vpdpbusd needs its first operand unsigned).
inline __m256 q8_block_products(const BlockQ8& w, const BlockQ8A& a) {
  const __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i activations = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
  return _mm256_cvtepi32_ps(
      dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(weights, weights), _mm256_sign_epi8(activations, weights)));
}

template <Prefetch P>
float dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  return dot_q8_quads<P>(
      w, a, n, [](const BlockQ8& block, const BlockQ8A& activations) { return q8_block_products(block, activations); });
}

// q4: dot_q4_quads with one vpdpbusd per block. (A lambda, not a function: GCC called a
// function passed by pointer here at each of the five uses instead of inlining it, which halved
// the kernel's speed.)
template <Prefetch P>
float dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) {
  return dot_q4_quads<P>(w, a, n, [](__m256i nibbles, __m256i activations) {
    return _mm256_cvtepi32_ps(dpbusd(_mm256_setzero_si256(), nibbles, activations));
  });
}

// sum_j sc_j * (q_j . a_j) of one block as eight int32 partial sums, converted to float.
// `scales` holds the block's unpacked scale bytes in both 128-bit lanes.
inline __m256 q4k_scaled_block_dot(const BlockQ4K& w, const BlockQ8K& a, __m256i scales) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // two chains: vpdpwssd's latency
  for (size_t chunk = 0; chunk < 4; ++chunk) {
    // int16 k of each lane: scale byte 2 * chunk zero-extended for k < 4, byte 2 * chunk + 1 for
    // k >= 4, the order in which packs_epi32 leaves the two sub-blocks' sums.
    const auto low_scale = short(0x8000 | (2 * chunk)), high_scale = short(0x8000 | (2 * chunk + 1));
    const __m256i pick =
        _mm256_setr_epi16(low_scale, low_scale, low_scale, low_scale, high_scale, high_scale, high_scale, high_scale,
                          low_scale, low_scale, low_scale, low_scale, high_scale, high_scale, high_scale, high_scale);
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * chunk));
    const __m256i low = _mm256_and_si256(packed, low_nibbles);                         // sub-block 2 * chunk
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);  // sub-block 2 * chunk + 1
    const __m256i a_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * chunk));
    const __m256i a_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * chunk + 32));
    // Four products of nibbles <= 15 and |activations| <= 127: |sum| <= 7620 fits int16 (no saturation).
    const __m256i low_sums = dpbusd(_mm256_setzero_si256(), low, a_low);
    const __m256i high_sums = dpbusd(_mm256_setzero_si256(), high, a_high);
    sums[chunk & 1] =
        dpwssd(sums[chunk & 1], _mm256_packs_epi32(low_sums, high_sums), _mm256_shuffle_epi8(scales, pick));
  }
  return _mm256_cvtepi32_ps(_mm256_add_epi32(sums[0], sums[1]));
}

template <Prefetch P>
float dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  return dot_q4k_pairs<P>(w, a, n, [](const BlockQ4K& block, const BlockQ8K& activations, __m256i scales) {
    return q4k_scaled_block_dot(block, activations, scales);
  });
}

// Eight interleaved q4k rows (block_q4k_x8.h): each vpdpbusd multiplies 4 nibbles of each row
// by the same 4 activations (broadcast) into that row's int32 lane, so a sub-block's 8 steps
// leave the 8 rows' sums in one register, scaled by one multiply: no packing, no scale
// shuffles. The high nibbles are taken in place (& 0xf0, 16 q: one instruction instead of a
// shift and a mask) and the low nibbles' sums scaled by 16 sc to match.
struct VnniQ4kx8 {
  static constexpr bool kLoadGroupOnce = true;
  __m256i low4 = _mm256_set1_epi8(0x0f), high4 = _mm256_set1_epi8(static_cast<char>(0xf0));
  void operator()(__m256i& low, __m256i& high, __m256i packed, const int8_t* a_low, const int8_t* a_high) const {
    low = dpbusd_broadcast(low, _mm256_and_si256(packed, low4), a_low);
    high = dpbusd_broadcast(high, _mm256_and_si256(packed, high4), a_high);
  }
  static __m256i add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
  static __m256i add_pair_products(__m256i sum, __m256i pairs, const int16_t* two) {
    return dpwssd_broadcast(sum, pairs, two);
  }
  static __m256i scale(__m256i low, __m256i high, __m256i scales_low, __m256i scales_high) {
    return _mm256_add_epi32(_mm256_mullo_epi32(low, _mm256_slli_epi32(scales_low, 4)),
                            _mm256_mullo_epi32(high, scales_high));
  }
};

template <Prefetch P>
void dot_q4k_x8(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out) {
  const BlockQ8K* const rows[1] = {a};
  dot_q4k_x8_blocks<P, 1>(w, rows, n, out, VnniQ4kx8{}, VnniQ4kx8::scale);
}

template <Prefetch P>
void dot_q4k_x8_tokens(const BlockQ4Kx8* w, const BlockQ8K* const* a, size_t tokens, size_t n, float* out) {
  dot_q4k_x8_token_blocks<P>(w, a, tokens, n, out, VnniQ4kx8{}, VnniQ4kx8::scale);
}

// Eight interleaved q8 rows (block_q8_x8.h): one vpdpbusd per 32 weights (4 of each row times
// the same 4 activations), the weights made unsigned by flipping their top bit (w + 128; the
// block loop takes 128 x the activations' sum off): no sign instructions, no per-row scales.
struct VnniQ8x8 {
  // Eight tokens a pass where AVX-512 gives 32 vector registers (their sums and totals fill 16):
  // one weight load and flip for eight vpdpbusd, and eight chains without a second accumulator
  // per token. From DRAM, one core, eight tokens took 36 reference cycles per block against 40.5
  // in two passes of four (the second reading the weights from L2). Sixteen registers (AVX-VNNI
  // without AVX-512) keep passes of four.
#if defined(__AVX512VL__)
  static constexpr size_t kTokensPerPass = 8;
#else
  static constexpr size_t kTokensPerPass = 4;
#endif
  __m256i top_bit = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256i operator()(__m256i sum, __m256i packed, const int8_t* four) const {
    return dpbusd_broadcast(sum, _mm256_xor_si256(packed, top_bit), four);
  }
};

template <Prefetch P>
void dot_q8_x8(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out) {
  const BlockQ8A* const rows[1] = {a};
  dot_q8_x8_blocks<P, true, 1>(w, rows, n, out, VnniQ8x8{});
}

template <Prefetch P>
void dot_q8_x8_tokens(const BlockQ8x8* w, const BlockQ8A* const* a, size_t tokens, size_t n, float* out) {
  dot_q8_x8_token_blocks<P, true>(w, a, tokens, n, out, VnniQ8x8{});
}

// The scale words of steps k and k + 1 (of 32 weights) in half c of a 16-weight sub-block type
// (q6k, q3k), in the order packs_epi32 leaves the four sub-blocks' sums of those steps: per
// 128-bit lane [sub-block 2k x4, 2k + 2 x4 | 2k + 1 x4, 2k + 3 x4] (of the half's eight).
inline __m256i step_pair_scales(const SubBlockScales& scales, size_t c, int k) {
  const auto word = [](int index) { return static_cast<short>((2 * index) | ((2 * index + 1) << 8)); };
  const short s0 = word(2 * k), s2 = word(2 * k + 2), s1 = word(2 * k + 1), s3 = word(2 * k + 3);
  const __m256i pick = _mm256_setr_epi16(s0, s0, s0, s0, s2, s2, s2, s2, s1, s1, s1, s1, s3, s3, s3, s3);
  return _mm256_shuffle_epi8(scales.halves[c], pick);
}

// Two steps of 32 unsigned values (< 64) times their activations, scaled: each vpdpbusd leaves
// int32 sums of four products (|sum| <= 4 x 63 x 128 = 32256, so packing them to int16 cannot
// saturate), and one vpdpwssd multiplies the packed sums of both steps by their sub-block scales
// into `sum`: 3 multiplies per 64 weights instead of maddubs + madd for each 32, as in q4k.
inline __m256i add_scaled_step_pair(__m256i sum, __m256i values0, __m256i values1, const int8_t* activations,
                                    __m256i scales) {
  const __m256i first =
      dpbusd(_mm256_setzero_si256(), values0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(activations)));
  const __m256i second =
      dpbusd(_mm256_setzero_si256(), values1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(activations + 32)));
  return dpwssd(sum, _mm256_packs_epi32(first, second), scales);
}

// Bits 0..3 of `low` and bits 4..5 of `high` in each byte (a bitwise select, then the top two
// bits cleared): a q6k value from its nibble and its two high bits.
inline __m256i q6k_values(__m256i low, __m256i high) {
  return _mm256_and_si256(select_bits(_mm256_set1_epi8(0x0f), low, high), _mm256_set1_epi8(0x3f));
}

template <Prefetch P>
float dot_q6k(const BlockQ6K* w, const BlockQ8K* a, size_t n) {
  return dot_sub_blocks_of_16<P, 5>(
      w, a, n, [](const BlockQ6K& block, const BlockQ8K& activations, const SubBlockScales& scales) {
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // two chains: vpdpwssd's latency
        for (size_t c = 0; c < 2; ++c) {
          const __m256i low_first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * c));
          const __m256i low_second = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * c + 32));
          const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh + 32 * c));
          // Step k takes the high bit pair k of qh to bits 4..5: shifts by 4 - 2k (16-bit shifts;
          // the bits crossing into a neighbouring byte land where the select or the mask drops them).
          const __m256i values0 = q6k_values(low_first, _mm256_slli_epi16(high, 4));
          const __m256i values1 = q6k_values(low_second, _mm256_slli_epi16(high, 2));
          const __m256i values2 = q6k_values(_mm256_srli_epi16(low_first, 4), high);
          const __m256i values3 = q6k_values(_mm256_srli_epi16(low_second, 4), _mm256_srli_epi16(high, 2));
          const int8_t* half = activations.qs + 128 * c;  // this half's 128 activations
          sums[0] = add_scaled_step_pair(sums[0], values0, values1, half, step_pair_scales(scales, c, 0));
          sums[1] = add_scaled_step_pair(sums[1], values2, values3, half + 64, step_pair_scales(scales, c, 2));
        }
        return _mm256_add_epi32(sums[0], sums[1]);
      });
}

template <Prefetch P>
float dot_q3k(const BlockQ3K* w, const BlockQ8K* a, size_t n) {
  return dot_sub_blocks_of_16<P, 2>(
      w, a, n, [](const BlockQ3K& block, const BlockQ8K& activations, const SubBlockScales& scales) {
        const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.hmask));
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (size_t c = 0; c < 2; ++c) {
          const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
          const auto values = [&](int j) { return q3k_values(low, high, int(c), j); };
          const int8_t* half = activations.qs + 128 * c;  // this half's 128 activations
          sums[0] = add_scaled_step_pair(sums[0], values(0), values(1), half, step_pair_scales(scales, c, 0));
          sums[1] = add_scaled_step_pair(sums[1], values(2), values(3), half + 64, step_pair_scales(scales, c, 2));
        }
        return _mm256_add_epi32(sums[0], sums[1]);
      });
}

// The table: `base`'s functions (the avx2 or avx512 table of the same prefetch variant) with the
// VNNI dot kernels in place of its integer ones.
template <Prefetch P>
Kernels vnni_table(const Kernels& base, Isa isa) {
  Kernels table = base;
  table.isa = isa;
  table.types = with_faster_rows(base.types, {
                                                 {TensorType::q8, {.dot = dot_kernel<dot_q8<P>>}},
                                                 {TensorType::q4, {.dot = dot_kernel<dot_q4<P>>}},
                                                 {TensorType::q4k, {.dot = dot_kernel<dot_q4k<P>>}},
                                                 {TensorType::q6k, {.dot = dot_kernel<dot_q6k<P>>}},
                                                 {TensorType::q3k, {.dot = dot_kernel<dot_q3k<P>>}},
                                                 {TensorType::q4k_x8,
                                                  {.group_dot = group_dot_kernel<dot_q4k_x8<P>>,
                                                   .group_tokens_dot = group_tokens_dot_kernel<dot_q4k_x8_tokens<P>>}},
                                                 {TensorType::q8_x8,
                                                  {.group_dot = group_dot_kernel<dot_q8_x8<P>>,
                                                   .group_tokens_dot = group_tokens_dot_kernel<dot_q8_x8_tokens<P>>}},
                                             });
  return table;
}

}  // namespace
}  // namespace smoe::quant
