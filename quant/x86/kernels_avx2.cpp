// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; selected only when the CPU has
// them). Integer dot products use maddubs on unsigned weights x signed activations; every
// function matches its scalar reference (block_q8a.cpp, f16_vector.cpp) up to float summation order.
#include <immintrin.h>

#include <cstring>

#include "quant/cpu_features.h"
#include "quant/dequantize_f32.h"
#include "quant/formats/untyped_kernels.h"
#include "quant/kernels.h"
#include "quant/simd/attention.h"
#include "quant/simd/float_dot.h"
#include "quant/x86/kernels.h"

namespace smoe::quant {
namespace {

// 32 unsigned bytes x 32 signed bytes -> 8 int32 partial sums (as floats).
inline __m256 dot_u8_s8(__m256i unsigned_bytes, __m256i signed_bytes) {
  const __m256i pairs = _mm256_maddubs_epi16(unsigned_bytes, signed_bytes);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline float max_abs(const float* x, size_t n) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 absmax = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) absmax = _mm256_max_ps(absmax, _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + i)));
  __m128 max4 = _mm_max_ps(_mm256_castps256_ps128(absmax), _mm256_extractf128_ps(absmax, 1));
  max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
  max4 = _mm_max_ss(max4, _mm_movehdup_ps(max4));
  return _mm_cvtss_f32(max4);
}

// Rounds 32 values x * inverse to int8 (ties to even, as the scalar reference) and returns their sum.
inline int32_t quantize_32(const float* x, __m256 inverse, int8_t* out) {
  __m256i q[4];
  for (int k = 0; k < 4; ++k) {
    q[k] = _mm256_cvtps_epi32(
        _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), inverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  const __m256i words = _mm256_packs_epi32(q[0], q[1]), words2 = _mm256_packs_epi32(q[2], q[3]);
  const __m256i bytes =
      _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words2), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
  // Sum of the 32 signed bytes: widen pairs with maddubs against ones.
  const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes), _mm256_set1_epi16(1));
  __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
  sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0x4e));
  sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0xb1));
  return _mm_cvtsi128_si32(sum4);
}

}  // namespace

void avx2_quantize_q8a(const float* x, BlockQ8A* out, size_t n) {
  for (size_t b = 0; b < n / 32; ++b) {
    const float d = max_abs(x + b * 32, 32) / 127.0f;
    out[b].d = d;
    out[b].sum = quantize_32(x + b * 32, _mm256_set1_ps(d > 0.0f ? 1.0f / d : 0.0f), out[b].qs);
  }
}

void avx2_quantize_q8k(const float* x, BlockQ8K* out, size_t n) {
  for (size_t b = 0; b < n / 256; ++b) {
    const float* xb = x + b * 256;
    const float d = max_abs(xb, 256) / 127.0f;
    const __m256 inverse = _mm256_set1_ps(d > 0.0f ? 1.0f / d : 0.0f);
    out[b].d = d;
    for (size_t j = 0; j < 8; ++j) out[b].sums[j] = static_cast<int16_t>(quantize_32(xb + 32 * j, inverse, out[b].qs + 32 * j));
    // Sums of 16: maddubs and madd against ones give sums of four, two rounds of hadd sums of 16.
    for (size_t half = 0; half < 2; ++half) {
      __m256i quads[4];  // 32 values each: eight sums of four
      for (size_t k = 0; k < 4; ++k) {
        const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out[b].qs + 128 * half + 32 * k));
        quads[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes), _mm256_set1_epi16(1));
      }
      // Per 128-bit lane: the sum of 16 of quads[0..3]; lane 0 holds values 0..15 of each 32,
      // lane 1 values 16..31.
      const __m256i sixteens = _mm256_hadd_epi32(_mm256_hadd_epi32(quads[0], quads[1]), _mm256_hadd_epi32(quads[2], quads[3]));
      alignas(32) int32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sixteens);
      for (size_t k = 0; k < 4; ++k) {
        out[b].sums16[8 * half + 2 * k] = static_cast<int16_t>(lanes[k]);
        out[b].sums16[8 * half + 2 * k + 1] = static_cast<int16_t>(lanes[4 + k]);
      }
    }
  }
}

namespace {

inline __m256 q8_block_products(const BlockQ8& w, const BlockQ8A& a) {
  const __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i activations = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
  // |w| x (a with w's sign): maddubs needs its first operand unsigned.
  return dot_u8_s8(_mm256_sign_epi8(weights, weights), _mm256_sign_epi8(activations, weights));
}

}  // namespace

template <Prefetch P>
float avx2_dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  return dot_q8_quads<P>(
      w, a, n, [](const BlockQ8& block, const BlockQ8A& activations) { return q8_block_products(block, activations); });
}

namespace {

}  // namespace

// q4 x q8a: dot_q4_quads (x86/kernels.h) with maddubs + madd per block: four blocks a step
// share the per-block scalar work, about 1.5x one block a step in cache (docs/PERFORMANCE.md).
template <Prefetch P>
float avx2_dot_q4(const BlockQ4* w, const BlockQ8A* a, size_t n) {
  // A lambda: passed by pointer, dot_u8_s8 was called rather than inlined (dot_q4 in
  // kernels_avx512_vnni.cpp).
  return dot_q4_quads<P>(w, a, n, [](__m256i nibbles, __m256i activations) { return dot_u8_s8(nibbles, activations); });
}

namespace {

// sum_j sc_j * (q_j . a_j) of one q4k block as eight float partial sums; `scales` holds the
// block's unpacked scale bytes in both 128-bit lanes (dot_q4k_pairs).
inline __m256 q4k_scaled_block_dot(const BlockQ4K& w, const BlockQ8K& a, __m256i scales) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  for (size_t chunk = 0; chunk < 4; ++chunk) {
    // Scale byte j zero-extended into every int16 lane: j = 2 chunk (low nibbles), 2 chunk + 1.
    const __m256i low_scale = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(short(0x8000 | (2 * chunk))));
    const __m256i high_scale = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(short(0x8000 | (2 * chunk + 1))));
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * chunk));
    const __m256i low = _mm256_and_si256(packed, low_nibbles);
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
    const __m256i a_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * chunk));
    const __m256i a_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * chunk + 32));
    // Nibbles <= 15 times |activations| <= 127: the int16 pair sums cannot saturate.
    sums[0] = _mm256_add_epi32(sums[0], _mm256_madd_epi16(_mm256_maddubs_epi16(low, a_low), low_scale));
    sums[1] = _mm256_add_epi32(sums[1], _mm256_madd_epi16(_mm256_maddubs_epi16(high, a_high), high_scale));
  }
  return _mm256_cvtepi32_ps(_mm256_add_epi32(sums[0], sums[1]));
}

}  // namespace

template <Prefetch P>
float avx2_dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  return dot_q4k_pairs<P>(w, a, n, [](const BlockQ4K& block, const BlockQ8K& activations, __m256i scales) {
    return q4k_scaled_block_dot(block, activations, scales);
  });
}

// Eight interleaved q4k rows (block_q4k_x8.h): each maddubs multiplies 4 nibbles of each row by
// the same 4 activations (broadcast) into two int16 pair sums per row; the 8 steps of a
// sub-block add up in int16 (8 x 2 x 15 x 127 = 30480), one madd and one multiply by the eight
// rows' scales per sub-block. (The VNNI tables' kernel takes the high nibbles as 16 q, which
// maddubs could saturate on.) The instruction set's part of dot_q4k_x8_blocks: a step of one
// 32-byte group, and the scaling.
struct Avx2Q4kx8 {
  static constexpr bool kLoadGroupOnce = false;
  __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
  void operator()(__m256i& low, __m256i& high, __m256i packed, const int8_t* a_low, const int8_t* a_high) const {
    low = _mm256_add_epi16(low, _mm256_maddubs_epi16(_mm256_and_si256(packed, low4), broadcast4(a_low)));
    high = _mm256_add_epi16(
        high, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(packed, 4), low4), broadcast4(a_high)));
  }
  static __m256i add(__m256i a, __m256i b) { return _mm256_add_epi16(a, b); }  // int16 sums (bound above)
  static __m256i add_pair_products(__m256i sum, __m256i pairs, const int16_t* two) {
    return _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, broadcast4(two)));
  }
  __m256i scale(__m256i low, __m256i high, __m256i scales_low, __m256i scales_high) const {
    const __m256i scaled = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_madd_epi16(low, ones), scales_low),
                                            _mm256_mullo_epi32(_mm256_madd_epi16(high, ones), scales_high));
    return _mm256_slli_epi32(scaled, 4);  // 16 x, as dot_q4k_x8_blocks takes it
  }
};

template <Prefetch P>
void avx2_dot_q4k_x8(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out) {
  const Avx2Q4kx8 kernel;
  const BlockQ8K* const rows[1] = {a};
  dot_q4k_x8_blocks<P, 1>(w, rows, n, out, kernel, [&](auto... v) { return kernel.scale(v...); });
}

template <Prefetch P>
void avx2_dot_q4k_x8_tokens(const BlockQ4Kx8* w, const BlockQ8K* const* a, size_t tokens, size_t n, float* out) {
  const Avx2Q4kx8 kernel;
  dot_q4k_x8_token_blocks<P>(w, a, tokens, n, out, kernel, [&](auto... v) { return kernel.scale(v...); });
}

// Eight interleaved q8 rows (block_q8_x8.h): maddubs of |w| and the broadcast activations with
// w's signs (maddubs needs one unsigned operand; |pair sum| <= 2 x 128 x 127 fits int16), one
// madd to int32 per group (two groups' int16 sums could saturate).
struct Avx2Q8x8 {
  static constexpr size_t kTokensPerPass = 4;  // eight tokens' sums and totals exceed 16 registers
  __m256i ones = _mm256_set1_epi16(1);
  __m256i operator()(__m256i sum, __m256i packed, const int8_t* four) const {
    const __m256i activations = broadcast4(four);
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(packed), _mm256_sign_epi8(activations, packed));
    return _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones));
  }
};

template <Prefetch P>
void avx2_dot_q8_x8(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out) {
  const BlockQ8A* const rows[1] = {a};
  dot_q8_x8_blocks<P, false, 1>(w, rows, n, out, Avx2Q8x8{});
}

template <Prefetch P>
void avx2_dot_q8_x8_tokens(const BlockQ8x8* w, const BlockQ8A* const* a, size_t tokens, size_t n, float* out) {
  dot_q8_x8_token_blocks<P, false>(w, a, tokens, n, out, Avx2Q8x8{});
}

namespace {

// Eight 32-byte groups of interleaved rows (group g: 4 bytes of each of 8 rows) -> each row's 32
// bytes at rows[r]: the groups transposed as an 8 x 8 matrix of dwords. Four groups at a time,
// in named registers: with arrays of eight GCC kept the vectors on the stack, stored in 16-byte
// halves and reloaded whole (a store-forwarding stall per vector; gemm/q8_x8 lost 7%).
inline void groups_to_rows(const uint8_t* groups, uint8_t* const rows[8]) {
  const auto load = [groups](int g) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(groups + 32 * g)); };
  // Groups 4h .. 4h + 3: per 128-bit lane l, dword r of the result k is row 4l + k's 4 bytes of group 4h + r.
  const auto transpose4 = [&](int h, __m256i& u0, __m256i& u1, __m256i& u2, __m256i& u3) {
    const __m256i v0 = load(4 * h), v1 = load(4 * h + 1), v2 = load(4 * h + 2), v3 = load(4 * h + 3);
    const __m256i t0 = _mm256_unpacklo_epi32(v0, v1), t1 = _mm256_unpackhi_epi32(v0, v1);
    const __m256i t2 = _mm256_unpacklo_epi32(v2, v3), t3 = _mm256_unpackhi_epi32(v2, v3);
    u0 = _mm256_unpacklo_epi64(t0, t2);
    u1 = _mm256_unpackhi_epi64(t0, t2);
    u2 = _mm256_unpacklo_epi64(t1, t3);
    u3 = _mm256_unpackhi_epi64(t1, t3);
  };
  __m256i a0, a1, a2, a3, b0, b1, b2, b3;
  transpose4(0, a0, a1, a2, a3);
  transpose4(1, b0, b1, b2, b3);
  const auto store = [rows](int r, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(rows[r]), v); };
  // a_k / b_k: rows k (lane 0) and k + 4 (lane 1) of groups 0..3 / 4..7.
  store(0, _mm256_permute2x128_si256(a0, b0, 0x20));
  store(4, _mm256_permute2x128_si256(a0, b0, 0x31));
  store(1, _mm256_permute2x128_si256(a1, b1, 0x20));
  store(5, _mm256_permute2x128_si256(a1, b1, 0x31));
  store(2, _mm256_permute2x128_si256(a2, b2, 0x20));
  store(6, _mm256_permute2x128_si256(a2, b2, 0x31));
  store(3, _mm256_permute2x128_si256(a3, b3, 0x20));
  store(7, _mm256_permute2x128_si256(a3, b3, 0x31));
}

}  // namespace

// q4k_x8 -> q4k rows: each chunk's eight 32-byte groups (4 bytes of each row) transposed as an
// 8 x 8 matrix of dwords into the eight rows' 32 bytes, and each block's scales unpacked once
// (dot_q4k_x8_blocks' unpacking), repacked into q4k's twelve bytes for all rows at once and
// transposed from sub-block order to row order. The scalar loop moved 4 bytes at a time: a fifth
// of an interleaved model's prompt time (perf, pp512 on the synthetic file).
void avx2_deinterleave_q4k_x8_rows(const BlockQ4Kx8* blocks, BlockQ4K* const rows[8], size_t n) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), bits67 = _mm256_set1_epi8(char(0xc0));
  // Within each 128-bit lane: bytes 0..7 and 8..15 interleaved (r0 of both halves, r1, ...).
  const __m256i pair_rows = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9, 2, 10, 3,
                                             11, 4, 12, 5, 13, 6, 14, 7, 15);
  // M's order [16 (j / 2) + 2 r + j % 2] -> [8 (j % 2) + r] within each lane (the S order).
  const __m256i minimum_order = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8,
                                                 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  // 32 bytes in [j][r] order (j < 4) -> per row r the 4 bytes j = 0..3, as dword r of `out`.
  const auto by_row = [&](__m256i bytes, uint32_t out[8]) {
    const __m256i pairs = _mm256_shuffle_epi8(bytes, pair_rows);  // lane 0: (j0, j1) per row, lane 1: (j2, j3)
    const __m128i low = _mm256_castsi256_si128(pairs), high = _mm256_extracti128_si256(pairs, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi16(low, high));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4), _mm_unpackhi_epi16(low, high));
  };
  for (size_t b = 0; b < n / BlockQ4Kx8::kElements; ++b) {
    const BlockQ4Kx8& block = blocks[b];
    // S, and M reordered to S's [8 j + r].
    const Q4kx8Scales unpacked = unpack_q4k_x8_scales(block);
    const __m256i s0 = unpacked.scales[0], s1 = unpacked.scales[1];
    const __m256i m0 = _mm256_shuffle_epi8(unpacked.minimums[0], minimum_order);
    const __m256i m1 = _mm256_shuffle_epi8(unpacked.minimums[1], minimum_order);
    // q4k's packing (block_q4k.h), j < 4: scales[j] = sc_j | (sc_{j+4} >> 4) << 6,
    // scales[j + 4] = m_j | (m_{j+4} >> 4) << 6, scales[j + 8] = sc_{j+4} & 15 | (m_{j+4} & 15) << 4.
    const __m256i packed0 = _mm256_or_si256(s0, _mm256_and_si256(_mm256_slli_epi16(s1, 2), bits67));
    const __m256i packed1 = _mm256_or_si256(m0, _mm256_and_si256(_mm256_slli_epi16(m1, 2), bits67));
    const __m256i packed2 =
        _mm256_or_si256(_mm256_and_si256(s1, low4), _mm256_slli_epi16(_mm256_and_si256(m1, low4), 4));
    uint32_t words[3][8];
    by_row(packed0, words[0]);
    by_row(packed1, words[1]);
    by_row(packed2, words[2]);
    for (size_t r = 0; r < 8; ++r) {
      BlockQ4K& out = rows[r][b];
      out.d = block.d[r];
      out.dmin = block.dmin[r];
      for (size_t k = 0; k < 3; ++k) std::memcpy(out.scales + 4 * k, &words[k][r], 4);
    }
    for (size_t c = 0; c < 4; ++c) {
      uint8_t* chunk_rows[8];
      for (size_t r = 0; r < 8; ++r) chunk_rows[r] = rows[r][b].qs + 32 * c;
      groups_to_rows(block.qs + 256 * c, chunk_rows);
    }
  }
}

// q8_x8 -> q8 rows: each block's eight groups transposed (groups_to_rows), its scales copied.
void avx2_deinterleave_q8_x8_rows(const BlockQ8x8* blocks, BlockQ8* const rows[8], size_t n) {
  for (size_t b = 0; b < n / BlockQ8x8::kElements; ++b) {
    uint8_t* block_rows[8];
    for (size_t r = 0; r < 8; ++r) {
      rows[r][b].d = blocks[b].d[r];
      block_rows[r] = reinterpret_cast<uint8_t*>(rows[r][b].qs);
    }
    groups_to_rows(reinterpret_cast<const uint8_t*>(blocks[b].qs), block_rows);
  }
}

// Sixteen int16 pair sums of 32 unsigned values (0..63) times 32 activations, times the step's
// two sub-block scales, into eight int32 sums. The formats' zero point (value - offset) is
// taken off once per block instead (zero_point_products): offset * sum_j scale_j * sums16_j.
inline __m256i dot_scaled(__m256i values, __m256i activations, __m256i scales) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(values, activations), scales);
}

template <Prefetch P>
float avx2_dot_q6k(const BlockQ6K* w, const BlockQ8K* a, size_t n) {
  return dot_sub_blocks_of_16<P, 5>(
      w, a, n, [](const BlockQ6K& block, const BlockQ8K& activations, const SubBlockScales& scales) {
        const __m256i low_nibbles = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(3);
        __m256i scaled_dot = _mm256_setzero_si256();
        for (size_t c = 0; c < 2; ++c) {
          const __m256i low_first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * c));
          const __m256i low_second = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * c + 32));
          const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh + 32 * c));
          const __m256i lows[4] = {_mm256_and_si256(low_first, low_nibbles), _mm256_and_si256(low_second, low_nibbles),
                                   _mm256_and_si256(_mm256_srli_epi16(low_first, 4), low_nibbles),
                                   _mm256_and_si256(_mm256_srli_epi16(low_second, 4), low_nibbles)};
          for (int k = 0; k < 4; ++k) {
            const __m256i high_bits = _mm256_and_si256(_mm256_srli_epi16(high, 2 * k), two_bits);
            const __m256i values = _mm256_or_si256(lows[k], _mm256_slli_epi16(high_bits, 4));
            const __m256i step =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(activations.qs + 128 * c + 32 * k));
            scaled_dot = _mm256_add_epi32(scaled_dot, dot_scaled(values, step, scales.pair(c, k)));
          }
        }
        return scaled_dot;
      });
}

template <Prefetch P>
float avx2_dot_q3k(const BlockQ3K* w, const BlockQ8K* a, size_t n) {
  return dot_sub_blocks_of_16<P, 2>(
      w, a, n, [](const BlockQ3K& block, const BlockQ8K& activations, const SubBlockScales& scales) {
        const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.hmask));
        __m256i scaled_dot = _mm256_setzero_si256();
        for (size_t c = 0; c < 2; ++c) {
          const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
          for (int j = 0; j < 4; ++j) {
            const __m256i values = q3k_values(low, high, int(c), j);
            const __m256i step =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(activations.qs + 128 * c + 32 * j));
            scaled_dot = _mm256_add_epi32(scaled_dot, dot_scaled(values, step, scales.pair(c, j)));
          }
        }
        return scaled_dot;
      });
}

template float avx2_dot_q8<Prefetch::software>(const BlockQ8*, const BlockQ8A*, size_t);
template float avx2_dot_q8<Prefetch::hardware>(const BlockQ8*, const BlockQ8A*, size_t);
template float avx2_dot_q4<Prefetch::software>(const BlockQ4*, const BlockQ8A*, size_t);
template float avx2_dot_q4<Prefetch::hardware>(const BlockQ4*, const BlockQ8A*, size_t);
template float avx2_dot_q4k<Prefetch::software>(const BlockQ4K*, const BlockQ8K*, size_t);
template float avx2_dot_q4k<Prefetch::hardware>(const BlockQ4K*, const BlockQ8K*, size_t);
template float avx2_dot_q6k<Prefetch::software>(const BlockQ6K*, const BlockQ8K*, size_t);
template float avx2_dot_q6k<Prefetch::hardware>(const BlockQ6K*, const BlockQ8K*, size_t);
template float avx2_dot_q3k<Prefetch::software>(const BlockQ3K*, const BlockQ8K*, size_t);
template float avx2_dot_q3k<Prefetch::hardware>(const BlockQ3K*, const BlockQ8K*, size_t);
template void avx2_dot_q4k_x8<Prefetch::software>(const BlockQ4Kx8*, const BlockQ8K*, size_t, float*);
template void avx2_dot_q4k_x8<Prefetch::hardware>(const BlockQ4Kx8*, const BlockQ8K*, size_t, float*);
template void avx2_dot_q4k_x8_tokens<Prefetch::software>(const BlockQ4Kx8*, const BlockQ8K* const*, size_t, size_t,
                                                         float*);
template void avx2_dot_q4k_x8_tokens<Prefetch::hardware>(const BlockQ4Kx8*, const BlockQ8K* const*, size_t, size_t,
                                                         float*);
template void avx2_dot_q8_x8_tokens<Prefetch::software>(const BlockQ8x8*, const BlockQ8A* const*, size_t, size_t,
                                                        float*);
template void avx2_dot_q8_x8_tokens<Prefetch::hardware>(const BlockQ8x8*, const BlockQ8A* const*, size_t, size_t,
                                                        float*);
template void avx2_dot_q8_x8<Prefetch::software>(const BlockQ8x8*, const BlockQ8A*, size_t, float*);
template void avx2_dot_q8_x8<Prefetch::hardware>(const BlockQ8x8*, const BlockQ8A*, size_t, float*);

namespace {

template <Prefetch P>
const Kernels& avx2_table() {
  static const Kernels kernels = with_reference_rows({
      .isa = Isa::avx2,
      .quantize_q8a = avx2_quantize_q8a,
      .quantize_q8k = avx2_quantize_q8k,
      .key_scores_f16 = key_scores<Avx2Vector, uint16_t>,
      .value_sum_f16 = value_sum<Avx2Vector, uint16_t>,
      .key_scores_i8 = key_scores<Avx2Vector, int8_t>,
      .value_sum_i8 = value_sum<Avx2Vector, int8_t>,
      .prefetch = P,
      .types = rows_by_type<TypeKernels>({
          {TensorType::f32, {.dot_rows = dot_rows_kernel<dot_rows_f32<Avx2Vector, P>>}},
          {TensorType::f16, {.dot_rows = dot_rows_kernel<dot_rows_f16<Avx2Vector, P>>}},
          {TensorType::bf16, {.dot_rows = dot_rows_kernel<dot_rows_bf16<Avx2Vector, P>>}},
          {TensorType::q8, {.dot = dot_kernel<avx2_dot_q8<P>>, .to_f32 = avx2_q8_to_f32}},
          {TensorType::q4, {.dot = dot_kernel<avx2_dot_q4<P>>}},
          {TensorType::q4k,
           {.dot = dot_kernel<avx2_dot_q4k<P>>,
            .to_f32 = avx2_q4k_to_f32,
            .quantize_row = quantize_kernel<avx2_quantize_row_q4k>}},
          {TensorType::q6k,
           {.dot = dot_kernel<avx2_dot_q6k<P>>,
            .to_f32 = avx2_q6k_to_f32,
            .quantize_row = quantize_kernel<avx2_quantize_row_q6k>}},
          {TensorType::q3k,
           {.dot = dot_kernel<avx2_dot_q3k<P>>,
            .to_f32 = avx2_q3k_to_f32,
            .quantize_row = quantize_kernel<avx2_quantize_row_q3k>}},
          {TensorType::q4k_x8,
           {.group_dot = group_dot_kernel<avx2_dot_q4k_x8<P>>,
            .group_tokens_dot = group_tokens_dot_kernel<avx2_dot_q4k_x8_tokens<P>>,
            .deinterleave = deinterleave_kernel<avx2_deinterleave_q4k_x8_rows>}},
          {TensorType::q8_x8,
           {.group_dot = group_dot_kernel<avx2_dot_q8_x8<P>>,
            .group_tokens_dot = group_tokens_dot_kernel<avx2_dot_q8_x8_tokens<P>>,
            .deinterleave = deinterleave_kernel<avx2_deinterleave_q8_x8_rows>}},
      }),
  });
  return kernels;
}

}  // namespace

const Kernels* avx2_kernels(Prefetch prefetch) {
  const CpuFeatures& cpu = cpu_features();
  const bool supported = cpu.avx2 && cpu.fma && cpu.f16c;
  if (!supported) return nullptr;
  return prefetch == Prefetch::software ? &avx2_table<Prefetch::software>() : &avx2_table<Prefetch::hardware>();
}

}  // namespace smoe::quant
