// What the AVX-512 and the AVX2 int8 prompt kernels share: the tile packer (gemm_int8.h's
// layout) in SSE2 operations, the 4-byte weight load and the dispatch on block size to each
// file's quantizers (the AVX-VNNI file, which has none, takes only the first two), and the ymm
// kernels' loop over tiles and token groups. File-local
// to each includer (see x86/kernels.h for why a shared definition compiled under one file's
// flags would be a hazard).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "quant/gemm_int8.h"

namespace smoe::quant {
namespace {

constexpr size_t kTileStepBytes = 4 * kInt8TileRows;

inline int32_t load_u32(const uint8_t* p) {
  int32_t value;
  std::memcpy(&value, p, 4);
  return value;
}

// Each includer defines these for blocks of 32 and 256: its ISA's weight requantizer and
// activation quantizer (quantize_weight_row_int8's and quantize_activation_int8's bytes).
template <size_t kBlock>
void quantize_weight_row_blocks(const float* row, size_t columns, uint8_t* q, float* scales);
template <size_t kBlock>
void quantize_activation_blocks(const float* row, size_t token, Int8Activations& out);

// Those for the kernel table, other block sizes through the references.
inline void quantize_weight_row(const float* row, size_t columns, size_t block_columns, uint8_t* q, float* scales) {
  if (block_columns == 256) {
    quantize_weight_row_blocks<256>(row, columns, q, scales);
  } else if (block_columns == 32) {
    quantize_weight_row_blocks<32>(row, columns, q, scales);
  } else {
    quantize_weight_row_int8_ref(row, columns, block_columns, q, scales);
  }
}
inline void quantize_activation(const float* row, size_t token, Int8Activations& out) {
  if (out.block_columns == 256) {
    quantize_activation_blocks<256>(row, token, out);
  } else if (out.block_columns == 32) {
    quantize_activation_blocks<32>(row, token, out);
  } else {
    quantize_activation_int8_ref(row, token, out);
  }
}

// The ymm kernels' outer loops: per 12-row tile and group of 16 tokens, `part(tile, rows,
// group, totals)` adds the tile's `rows` rows into totals[row][token] (zeroed, in L1), which are
// then stored for the group's real tokens.
template <class Part>
inline void for_each_tile_group(size_t rows, const Int8Activations& a, float* y, size_t y_stride, Part part) {
  const size_t groups = a.padded_tokens / kInt8TokenGroup;
  for (size_t r = 0; r < rows; r += kInt8TileRows) {
    const size_t count = rows - r < kInt8TileRows ? rows - r : kInt8TileRows;
    for (size_t g = 0; g < groups; ++g) {
      alignas(32) float totals[kInt8TileRows][kInt8TokenGroup] = {};
      part(r / kInt8TileRows, count, g, totals);
      const size_t first_token = g * kInt8TokenGroup;
      const size_t tokens = a.tokens - first_token < kInt8TokenGroup ? a.tokens - first_token : kInt8TokenGroup;
      for (size_t row = 0; row < count; ++row) {
        for (size_t t = 0; t < tokens; ++t) y[(first_token + t) * y_stride + r + row] = totals[row][t];
      }
    }
  }
}

// Per block and group of 4 steps (16 bytes of each row), 4 rows at a time: 4 loads, a 4 x 4
// transpose of dwords, 4 stores (a gather of 12 dwords per step measured twice as slow).
inline void pack_tile(const uint8_t* q, const float* scales, size_t rows, size_t blocks, size_t block_columns,
                      uint8_t* tile, float* tile_scales) {
  const size_t columns = blocks * block_columns, steps = block_columns / 4;
  const __m128i padding = _mm_set1_epi8(static_cast<char>(0x80));
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t r = 0; r < kInt8TileRows; ++r)
      tile_scales[b * kInt8TileRows + r] = r < rows ? scales[r * blocks + b] : 0.0f;
    uint8_t* out = tile + b * steps * kTileStepBytes;
    for (size_t j = 0; j < steps; j += 4) {
      for (size_t r = 0; r < kInt8TileRows; r += 4) {
        __m128i row[4];
        for (size_t i = 0; i < 4; ++i) {
          row[i] =
              r + i < rows
                  ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + (r + i) * columns + b * block_columns + 4 * j))
                  : padding;
        }
        const __m128i low01 = _mm_unpacklo_epi32(row[0], row[1]), high01 = _mm_unpackhi_epi32(row[0], row[1]);
        const __m128i low23 = _mm_unpacklo_epi32(row[2], row[3]), high23 = _mm_unpackhi_epi32(row[2], row[3]);
        const __m128i step_words[4] = {_mm_unpacklo_epi64(low01, low23), _mm_unpackhi_epi64(low01, low23),
                                       _mm_unpacklo_epi64(high01, high23), _mm_unpackhi_epi64(high01, high23)};
        for (size_t i = 0; i < 4; ++i) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (j + i) * kTileStepBytes + 4 * r), step_words[i]);
        }
      }
    }
  }
}

}  // namespace
}  // namespace smoe::quant
