// q4k_x8: eight q4k rows interleaved, the decode layout of q4k weight matrices.
//
// Why: a q4k row's dot product spends more instructions on its per-sub-block scales (int32
// sums packed to int16, scale words shuffled, one more multiply per 64 weights) than on the
// products themselves, and one core turns q4k bytes into products only ~1.5x faster than DRAM
// delivers them, so computing and streaming do not fully overlap. With eight rows side by
// side, each vpdpbusd
// multiplies 4 weights of each of the 8 rows by the same 4 activations (broadcast), its int32
// lanes are the 8 rows' running sums of one sub-block, and the sub-block scales apply to 8 rows
// in one multiply per 32 weights: half the instructions per weight (docs/PERFORMANCE.md).
//
// Layout of one block: 8 rows x 256 weights, 1152 bytes (8 q4k blocks, the same bits
// regrouped: every q4k block converts to and from this exactly):
//   uint16 d[8], dmin[8]       row r's f16 super-scales
//   uint8  scales_low[32]      low 4 bits of the 6-bit sub-block scales, two per byte
//   uint8  minimums_low[32]    low 4 bits of the 6-bit minimums, two per byte
//   uint8  high_bits[32]       their top 2 bits, four pairs per byte
//   uint8  qs[1024]            4-bit values, 32-byte groups: group 8c + g (chunk c < 4 of 64
//                              weights, g < 8) holds at byte 4r + t row r's q4k byte
//                              qs[32c + 4g + t]: its low nibble is weight 64c + 4g + t (sub-block
//                              2c), its high nibble weight 64c + 32 + 4g + t (sub-block 2c + 1)
// The scales unpack (64 bytes each) to S[8j + r] = sc_j of row r (sub-block j's 8 rows in a
// row, for a multiply of 8 int32 lanes) and M[16(j/2) + 2r + j%2] = m_j of row r (pairs of
// sub-blocks adjacent, for a multiply-add with the activations' pairs of sub-block sums):
//   scales_low[i]   = S[i] & 15 | (S[i + 32] & 15) << 4          i < 32
//   minimums_low[i] = M[i] & 15 | (M[i + 32] & 15) << 4
//   high_bits[i]    = S[i] >> 4 | (S[i + 32] >> 4) << 2 | (M[i] >> 4) << 4 | (M[i + 32] >> 4) << 6
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q8a.h"

namespace smoe::quant {

struct BlockQ4Kx8 {
  static constexpr size_t kRows = 8;
  static constexpr size_t kElements = 256;  // per row
  uint16_t d[kRows];
  uint16_t dmin[kRows];
  uint8_t scales_low[32];
  uint8_t minimums_low[32];
  uint8_t high_bits[32];
  uint8_t qs[kRows * kElements / 2];
};
static_assert(sizeof(BlockQ4Kx8) == 8 * sizeof(BlockQ4K), "BlockQ4Kx8 is part of the file format");

// Index in the unpacked minimums M of sub-block j's minimum of row r.
constexpr size_t q4k_x8_minimum_index(size_t j, size_t r) { return 16 * (j / 2) + 2 * r + j % 2; }

// Rows `rows[0..7]` (n weights each, a multiple of 256) -> n / 256 interleaved blocks.
void interleave_q4k_x8(const BlockQ4K* const rows[8], BlockQ4Kx8* out, size_t n);
// n / 256 interleaved blocks -> the eight rows' q4k blocks (rows[r] gets row r's n / 256), bit
// for bit what went in; each block's scales unpacked once for the eight.
void deinterleave_q4k_x8_rows(const BlockQ4Kx8* blocks, BlockQ4K* const rows[8], size_t n);

// The unpacked 6-bit scales and minimums of one block (layout above).
void q4k_x8_unpack_scales(const BlockQ4Kx8& block, uint8_t scales[64], uint8_t minimums[64]);

// Scalar reference: out[r] = the dot product of row r with the activations, summed in
// dot_q4k_q8k_ref's order (so equal to it on the de-interleaved row, bit for bit).
void dot_q4k_x8_q8k_ref(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out);

}  // namespace smoe::quant
