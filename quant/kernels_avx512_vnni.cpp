// AVX-512 VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; selected
// only on CPUs that have them): the "avx512-vnni" table. Decoding streams every weight once, so
// a kernel must turn bytes into products well faster than one core reads DRAM (17 GB/s on the
// Xeon, 28 GB/s on the Zen 4 host), or the two costs add up instead of overlapping. Here:
// - q4k: two blocks a step, on 256-bit registers. Each 64-weight chunk is two vpdpbusd (nibbles
//   x activations, one sub-block each, int32 sums of 4 products that fit in int16), packed to
//   int16 and multiplied by the two sub-block scales in one vpdpwssd: 3 multiplies per 64
//   weights instead of 4 and half the scale shuffles of madd-then-scale; the two blocks' scales,
//   super-scales and minimum terms are handled together (dot_q4k_pairs, shared with the AVX2
//   kernel): the per-block work was a third of the kernel's instructions. Zen 4, one
//   core, alternating A/B against the former single-block vpdpwssd kernel (docs/PERFORMANCE.md):
//   in cache x1.16, from DRAM x1.04. 512-bit versions ran slower on both hosts: on the Xeon
//   512-bit multiplies issue on one port, 256-bit ones on two; Zen 4 splits them in halves.
// - q8: |w| x sign(a, w) in one vpdpbusd per block instead of maddubs + madd, four blocks a
//   step (dot_q8_quads, shared with the AVX2 kernel). Zen 4, one core, against the one-block
//   AVX2 kernel it replaced (both without prefetch instructions): in cache x1.33, from DRAM
//   x1.12; the four-block AVX2 kernel alone measured x1.17 / x1.03. On the Xeon, vpdpbusd
//   one block a step had measured the same 27-28 GB/s in cache as AVX2 (the per-block scales).
// Everything else is the avx512 table's. Each function matches its scalar
// reference (block_q8a.cpp) up to float summation order; test_kernels.cpp checks it.
#include <immintrin.h>

#include "quant/cpu_features.h"
#include "quant/kernels.h"
#include "quant/kernels_x86.h"

namespace smoe::quant {
namespace {

// One q8 block: |w| x (a with w's sign) in int32 lanes (vpdpbusd needs its first operand unsigned).
inline __m256 q8_block_products(const BlockQ8& w, const BlockQ8A& a) {
  const __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i activations = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
  return _mm256_cvtepi32_ps(
      _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(weights, weights), _mm256_sign_epi8(activations, weights)));
}

template <Prefetch P>
float dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  return dot_q8_quads<P>(w, a, n, q8_block_products);
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
    const __m256i pick = _mm256_setr_epi16(low_scale, low_scale, low_scale, low_scale, high_scale, high_scale, high_scale,
                                           high_scale, low_scale, low_scale, low_scale, low_scale, high_scale, high_scale,
                                           high_scale, high_scale);
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * chunk));
    const __m256i low = _mm256_and_si256(packed, low_nibbles);                          // sub-block 2 * chunk
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);  // sub-block 2 * chunk + 1
    const __m256i a_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * chunk));
    const __m256i a_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 64 * chunk + 32));
    // Four products of nibbles <= 15 and |activations| <= 127: |sum| <= 7620 fits int16 (no saturation).
    const __m256i low_sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), low, a_low);
    const __m256i high_sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), high, a_high);
    sums[chunk & 1] = _mm256_dpwssd_epi32(sums[chunk & 1], _mm256_packs_epi32(low_sums, high_sums),
                                          _mm256_shuffle_epi8(scales, pick));
  }
  return _mm256_cvtepi32_ps(_mm256_add_epi32(sums[0], sums[1]));
}

template <Prefetch P>
float dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  return dot_q4k_pairs<P>(w, a, n, q4k_scaled_block_dot);
}

template <Prefetch P>
const Kernels& avx512_vnni_table() {
  static const Kernels kernels = [] {
    Kernels table = *avx512_kernels(P);
    table.isa = "avx512-vnni";
    table.dot_q8 = dot_q8<P>;
    table.dot_q4k = dot_q4k<P>;
    return table;
  }();
  return kernels;
}

}  // namespace

const Kernels* avx512_vnni_kernels(Prefetch prefetch) {
  if (avx512_kernels(prefetch) == nullptr || !cpu_features().avx512_vnni) return nullptr;
  return prefetch == Prefetch::software ? &avx512_vnni_table<Prefetch::software>()
                                        : &avx512_vnni_table<Prefetch::hardware>();
}

}  // namespace smoe::quant
