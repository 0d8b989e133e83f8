// AVX-512 VNNI kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; selected
// only on CPUs that have them): the "avx512-vnni" table. Decoding streams every weight once, so
// a kernel must turn bytes into products well faster than one core reads DRAM (~17 GB/s here),
// or the two costs add up instead of overlapping. Here:
// - q4k: the AVX2 kernel with vpdpwssd (one instruction for madd + add) on 256-bit registers:
//   21.4 -> 22.5 GB/s in cache. A 512-bit version (a 64-weight chunk per register) ran slower
//   (19.7): on this core 512-bit multiplies issue on one port, 256-bit ones on two.
// q8 stays the AVX2 kernel: vpdpbusd versions (256-bit, and 512-bit with eight blocks' scales
// converted together) measured the same 27-28 GB/s in cache, bound by the per-block scales.
// Everything else is the avx512 table's. Each function matches its scalar
// reference (block_q8a.cpp) up to float summation order; test_kernels.cpp checks it.
#include <immintrin.h>

#include "quant/cpu_features.h"
#include "quant/kernels.h"
#include "quant/kernels_x86.h"

namespace smoe::quant {
namespace {

float dot_q4k(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  return dot_q4k_256(w, a, n, [](__m256i sum, __m256i pairs, __m256i scales) {
    return _mm256_dpwssd_epi32(sum, pairs, scales);
  });
}

}  // namespace

const Kernels* avx512_vnni_kernels() {
  const Kernels* avx512 = avx512_kernels();
  if (avx512 == nullptr || !cpu_features().avx512_vnni) return nullptr;
  static const Kernels kernels = [&] {
    Kernels table = *avx512;
    table.isa = "avx512-vnni";
    table.dot_q4k = dot_q4k;
    return table;
  }();
  return &kernels;
}

}  // namespace smoe::quant
