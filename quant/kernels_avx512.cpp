// AVX-512 (F, BW, VL) kernels, compiled with -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma
// -mf16c and selected only on CPUs that have them. 512-bit registers take two 32-weight
// blocks (q8) or two q4k sub-blocks per instruction; q4 and the activation quantizers reuse
// the AVX2 versions.
#include <immintrin.h>

#include "quant/kernels.h"
#include "quant/kernels_x86.h"

namespace smoe::quant {
namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline __m512i load_two(const int8_t* first, const int8_t* second) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(first))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(second)), 1);
}

float dot_q8(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  const size_t blocks = n / 32;
  __m512 total = _mm512_setzero_ps();
  size_t b = 0;
  for (; b + 1 < blocks; b += 2) {
    const __m512i weights = load_two(w[b].qs, w[b + 1].qs);
    const __m512i activations = load_two(a[b].qs, a[b + 1].qs);
    // |w| x (a with w's sign), as in the AVX2 kernel; 8 int32 sums per block.
    const __mmask64 negative = _mm512_movepi8_mask(weights);
    const __m512i abs_weights = _mm512_abs_epi8(weights);
    const __m512i signed_activations = _mm512_mask_sub_epi8(activations, negative, _mm512_setzero_si512(), activations);
    const __m512i sums = _mm512_madd_epi16(_mm512_maddubs_epi16(abs_weights, signed_activations), _mm512_set1_epi16(1));
    const __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(half_to_float(w[b].d) * a[b].d),
                                            _mm256_set1_ps(half_to_float(w[b + 1].d) * a[b + 1].d), 1);
    total = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sums), total);
  }
  float sum = _mm512_reduce_add_ps(total);
  if (b < blocks) sum += avx2_dot_q8(w + b, a + b, 32);
  return sum;
}

float dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
  __m512 total = _mm512_setzero_ps();
  float minimum_terms = 0.0f;
  for (size_t b = 0; b < n / 256; ++b) {
    alignas(16) uint8_t unpacked[16];  // 8 scales, then 8 minimums
    q4k_unpack_scales(w[b].scales, unpacked);
    const uint8_t* scales = unpacked;
    // sum_j m_j * activation_sum_j, eight 16-bit products at once.
    const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(unpacked + 8)));
    __m128i products = _mm_madd_epi16(mins16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[b].sums)));
    products = _mm_add_epi32(products, _mm_shuffle_epi32(products, 0x4e));
    products = _mm_add_epi32(products, _mm_shuffle_epi32(products, 0xb1));
    const int32_t scaled_minimum = _mm_cvtsi128_si32(products);
    __m512i scaled_dot = _mm512_setzero_si512();
    for (size_t pair = 0; pair < 2; ++pair) {  // chunks 2p and 2p + 1: 64 packed bytes
      const __m512i packed = _mm512_loadu_si512(w[b].qs + 64 * pair);
      const __m512i low = _mm512_and_si512(packed, low_nibbles);                      // sub-blocks 4p, 4p+2
      const __m512i high = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);  // sub-blocks 4p+1, 4p+3
      const int8_t* act = a[b].qs + 128 * pair;
      const __m512i a_low = load_two(act, act + 64);
      const __m512i a_high = load_two(act + 32, act + 96);
      const __m512i scale_low = _mm512_inserti64x4(_mm512_set1_epi16(scales[4 * pair]),
                                                   _mm256_set1_epi16(scales[4 * pair + 2]), 1);
      const __m512i scale_high = _mm512_inserti64x4(_mm512_set1_epi16(scales[4 * pair + 1]),
                                                    _mm256_set1_epi16(scales[4 * pair + 3]), 1);
      scaled_dot = _mm512_add_epi32(scaled_dot, _mm512_madd_epi16(_mm512_maddubs_epi16(low, a_low), scale_low));
      scaled_dot = _mm512_add_epi32(scaled_dot, _mm512_madd_epi16(_mm512_maddubs_epi16(high, a_high), scale_high));
    }
    total = _mm512_fmadd_ps(_mm512_set1_ps(half_to_float(w[b].d) * a[b].d), _mm512_cvtepi32_ps(scaled_dot), total);
    minimum_terms += half_to_float(w[b].dmin) * a[b].d * float(scaled_minimum);
  }
  return _mm512_reduce_add_ps(total) - minimum_terms;
}

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels{"avx512", avx2_quantize_q8a, avx2_quantize_q8k, dot_q8, avx2_dot_q4, dot_q4k};
  const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && avx2_kernels() != nullptr;
  return supported ? &kernels : nullptr;
}

}  // namespace smoe::quant
