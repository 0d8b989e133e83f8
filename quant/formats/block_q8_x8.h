// q8_x8: eight q8 rows interleaved, the decode layout of q8 weight matrices.
//
// Why: a q8 row's dot product spends as many instructions on its 32-weight blocks' scales
// (one f16 scale per block converted, broadcast and multiplied, the block's int32 sums
// converted to float) as on the products, so one core turns q8 bytes into products only
// ~1.5-2x faster than DRAM delivers them and computing and streaming overlap badly, as they
// did for q4k
// (block_q4k_x8.h). With eight rows side by side each vpdpbusd multiplies 4 weights of each of
// the 8 rows by the same 4 activations (broadcast), its int32 lanes are the 8 rows' sums, and
// one conversion and one multiply-add apply the 8 rows' scales: per 256 weights 8 multiplies
// and one set of scale work instead of 8 of each (docs/PERFORMANCE.md).
//
// Layout of one block: 8 rows x 32 weights, 272 bytes (8 q8 blocks, the same bytes regrouped:
// every q8 block converts to and from this exactly):
//   uint16 d[8]      row r's f16 scale
//   int8   qs[256]   32-byte groups: group g (< 8) holds at byte 4r + t row r's qs[4g + t]
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/formats/block_q8.h"
#include "quant/formats/block_q8a.h"

namespace smoe::quant {

struct BlockQ8x8 {
  static constexpr size_t kRows = 8;
  static constexpr size_t kElements = 32;  // per row
  uint16_t d[kRows];
  int8_t qs[kRows * kElements];
};
static_assert(sizeof(BlockQ8x8) == 8 * sizeof(BlockQ8), "BlockQ8x8 is part of the file format");

// Rows `rows[0..7]` (n weights each, a multiple of 32) -> n / 32 interleaved blocks.
void interleave_q8_x8(const BlockQ8* const rows[8], BlockQ8x8* out, size_t n);
// n / 32 interleaved blocks -> the eight rows' q8 blocks (rows[r] gets row r's n / 32), bit for
// bit what went in.
void deinterleave_q8_x8_rows(const BlockQ8x8* blocks, BlockQ8* const rows[8], size_t n);

// Scalar reference: out[r] = the dot product of row r with the activations, summed in
// dot_q8_q8a_ref's order (so equal to it on the de-interleaved row, bit for bit).
void dot_q8_x8_q8a_ref(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out);

}  // namespace smoe::quant
