// AVX-512 (F, BW, VL, BF16) decoders of q4k, q8, q6k and q3k rows to bf16, compiled with those
// flags; the avx512 tables' rows name them on CPUs that have AVX512-BF16. Each f32 value is
// computed exactly as the scalar reference computes it (x86/dequantize.h: no fused multiply-add) and rounded to
// nearest-even bf16 by vcvtneps2bf16, so the bits match dequantize_row_bf16_ref for every normal value (the instruction
// treats f32 denormals as zero).
#include <immintrin.h>

#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q8.h"
#include "quant/dequantize_bf16.h"
#include "quant/x86/dequantize.h"

namespace smoe::quant {
namespace {

inline void store_bf16(uint16_t* out, __m512 values) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), (__m256i)_mm512_cvtneps_pbh(values));
}

// Each block's values (q4k_block_values and its kin) stored as bf16.
template <class Block, class BlockValues>
void dequantize_blocks(const void* src, uint16_t* dst, size_t n, BlockValues block_values) {
  const auto* blocks = static_cast<const Block*>(src);
  for (size_t b = 0; b < n / Block::kElements; ++b) {
    block_values(blocks[b], [&](size_t at, __m512 values) { store_bf16(dst + Block::kElements * b + at, values); });
  }
}

}  // namespace

void avx512_q4k_to_bf16(const void* src, uint16_t* dst, size_t n) {
  dequantize_blocks<BlockQ4K>(src, dst, n,
                              [](const BlockQ4K& w, auto store) { q4k_block_values<Avx512Vector>(w, store); });
}
void avx512_q8_to_bf16(const void* src, uint16_t* dst, size_t n) {
  dequantize_blocks<BlockQ8>(src, dst, n,
                             [](const BlockQ8& w, auto store) { q8_block_values<Avx512Vector>(w, store); });
}
void avx512_q6k_to_bf16(const void* src, uint16_t* dst, size_t n) {
  dequantize_blocks<BlockQ6K>(src, dst, n,
                              [](const BlockQ6K& w, auto store) { q6k_block_values<Avx512Vector>(w, store); });
}
void avx512_q3k_to_bf16(const void* src, uint16_t* dst, size_t n) {
  dequantize_blocks<BlockQ3K>(src, dst, n,
                              [](const BlockQ3K& w, auto store) { q3k_block_values<Avx512Vector>(w, store); });
}

}  // namespace smoe::quant
