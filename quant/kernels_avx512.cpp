// AVX-512 (F, BW, VL) kernels, compiled with -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma
// -mf16c and selected only on CPUs that have them. 512-bit registers take two 32-weight q8
// blocks per instruction. q4, q4k, q6k, q3k and the activation quantizers reuse the AVX2 versions: a
// 512-bit q4k kernel measured 10-20% slower than the AVX2 one on Zen 4 (docs/PERFORMANCE.md).
#include <immintrin.h>

#include "quant/cpu_features.h"
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
    prefetch_ahead(w + b, 2);  // 68 bytes
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

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels{"avx512",      avx2_quantize_q8a, avx2_quantize_q8k,  dot_q8,
                               avx2_dot_q4,   avx2_dot_q4k,      avx2_dot_q6k,       avx2_dot_q3k,
                               avx2_dot_f16_group, avx2_axpy_f16_group, avx2_dot_i8_group, avx2_axpy_i8_group};
  const CpuFeatures& cpu = cpu_features();
  const bool supported = cpu.avx512f && cpu.avx512bw && cpu.avx512vl && avx2_kernels() != nullptr;
  return supported ? &kernels : nullptr;
}

}  // namespace smoe::quant
