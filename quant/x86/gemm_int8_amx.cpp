// AMX-INT8 kernel of the int8 prompt products (compiled with -mamx-tile -mamx-int8 and AVX-512
// for the block scaling; chosen only where the CPU has AMX-INT8 and Linux grants the process
// its tile data). gemm_int8.h has the layouts; gemm_int8.cpp the scalar references it matches.
//
// Why: on CPUs with AMX (Intel Xeon since Sapphire Rapids) one tdpbusd multiplies a 12 x 64
// tile of weight bytes by a 64 x 16 tile of activation bytes, 12288 multiply-adds, where a
// vpdpbusd does 64; oneDNN's bf16 AMX matmul, which prompts took before, does half the
// multiplies per instruction and needs every weight decoded to bf16 in memory first.
//
// Tiles: weights are the first operand (u8 = value + 128, 12 rows of one block's K bytes, the
// block's rows contiguous: pack_int8_tile_rows_ref's layout), activations the second
// (Int8Activations' layout is AMX's: per block [K / 4][16 tokens][4 bytes]). Up to 2 x 2 of
// them: two 12-row weight tiles against two groups of 16 tokens make four 12 x 16 int32 sums per
// step of K = 64 (32 for blocks of 32 columns, whose scale changes every 32). Per block the sums
// are stored, their +128 offsets taken off, scaled by the weight row's and the token's scales
// and added into f32 totals in L1, as the AVX-512 kernel does; that scaling runs one block
// behind the tiles' products, so that AVX-512 and AMX work side by side. Columns go in spans
// whose activations fit in L2.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"

namespace smoe::quant {
namespace {

// Tile registers (GCC's intrinsics take literal numbers): 0, 1 weight tiles; 2, 3 token
// groups; 4 + 2i + j the sums of weight tile i and token group j.
constexpr int kWeightTile0 = 0, kWeightTile1 = 1, kTokenTile0 = 2, kTokenTile1 = 3;
constexpr int kSumTile00 = 4, kSumTile01 = 5, kSumTile10 = 6, kSumTile11 = 7;

// The 64-byte operand of ldtilecfg (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Tile shapes for steps of `k` columns (64, or 32 for blocks of 32). Per thread: every call
// configures its own thread's tiles, and releases them when done.
void configure_tiles(size_t k) {
  TileConfig config;
  for (int tile : {kWeightTile0, kWeightTile1}) {
    config.rows[tile] = kInt8TileRows;
    config.bytes_per_row[tile] = static_cast<uint16_t>(k);
  }
  for (int tile : {kTokenTile0, kTokenTile1}) {
    config.rows[tile] = static_cast<uint8_t>(k / 4);
    config.bytes_per_row[tile] = 4 * kInt8TokenGroup;
  }
  for (int tile : {kSumTile00, kSumTile01, kSumTile10, kSumTile11}) {
    config.rows[tile] = kInt8TileRows;
    config.bytes_per_row[tile] = 4 * kInt8TokenGroup;
  }
  // Not _tile_loadconfig: GCC 12's declares only the first 8 bytes of the operand read, so the
  // stores of the shapes after them can be dropped as dead (tilezero then faults).
  __asm__ volatile("ldtilecfg %0" : : "m"(config));
}

// f32 totals of up to two weight tiles x two token groups: [tile][group][row][token].
using Totals = float[2][2][kInt8TileRows][kInt8TokenGroup];
struct alignas(64) AlignedTotals {  // for std::vector (C++17's aligned new): the stores are aligned
  Totals sums;
};

// totals += scale_w[row] x scale_a[token] x (sums + offsets[token]) for one 12 x 16 sum tile.
inline void scale_into(const int32_t (&sums)[kInt8TileRows][kInt8TokenGroup], const float* weight_scales,
                       const float* token_scales, const int32_t* offsets,
                       float (&totals)[kInt8TileRows][kInt8TokenGroup]) {
  const __m512 scales = _mm512_loadu_ps(token_scales);
  const __m512i offset = _mm512_loadu_si512(offsets);
  for (size_t r = 0; r < kInt8TileRows; ++r) {
    const __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_load_si512(sums[r]), offset));
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(weight_scales[r]), scales);
    _mm512_store_ps(totals[r], _mm512_fmadd_ps(sum, scale, _mm512_load_ps(totals[r])));
  }
}

// Weight tiles `tile` (and tile + 1: kTwoTiles) against token groups `group` (and group + 1:
// kTwoGroups), blocks [first_block, end_block), added into totals.
template <bool kTwoTiles, bool kTwoGroups>
void tile_product(const uint8_t* tiles, const float* tile_scales, size_t tile, const Int8Activations& a, size_t group,
                  size_t first_block, size_t end_block, Totals& totals) {
  const size_t blocks = a.blocks, padded = a.padded_tokens, block_columns = a.block_columns;
  const size_t k = block_columns == 32 ? 32 : 64, steps = block_columns / k;
  const size_t group_block_bytes = block_columns * kInt8TokenGroup;
  const size_t tile_bytes = int8_tile_bytes(blocks, block_columns), scales_per_tile = int8_tile_scales(blocks);
  const uint8_t* weights0 = tiles + tile * tile_bytes;
  const uint8_t* weights1 = weights0 + tile_bytes;
  const int8_t* tokens0 = a.values.data() + group * blocks * group_block_bytes;
  const int8_t* tokens1 = tokens0 + blocks * group_block_bytes;
  // Block b's sums are scaled while the tiles multiply block b + 1 (software-pipelined: the
  // AVX-512 scaling, a third of the time when it waited for each block's products, runs beside
  // AMX), in two buffers of stored sums.
  alignas(64) int32_t sums[2][2][2][kInt8TileRows][kInt8TokenGroup];  // [buffer][tile][group]
  const auto scale_block = [&](size_t b) {
    for (size_t i = 0; i < (kTwoTiles ? 2u : 1u); ++i) {
      const float* weight_scales = tile_scales + (tile + i) * scales_per_tile + b * kInt8TileRows;
      for (size_t j = 0; j < (kTwoGroups ? 2u : 1u); ++j) {
        const size_t token_at = b * padded + (group + j) * kInt8TokenGroup;
        scale_into(sums[b % 2][i][j], weight_scales, a.scales.data() + token_at, a.offsets.data() + token_at,
                   totals[i][j]);
      }
    }
  };
  for (size_t b = first_block; b < end_block; ++b) {
    _tile_zero(4);
    if constexpr (kTwoGroups) _tile_zero(5);
    if constexpr (kTwoTiles) _tile_zero(6);
    if constexpr (kTwoTiles && kTwoGroups) _tile_zero(7);
    for (size_t s = 0; s < steps; ++s) {
      const size_t weight_at = b * kInt8TileRows * block_columns + s * k;  // row stride: block_columns
      const size_t token_at = b * group_block_bytes + s * k * kInt8TokenGroup;
      _tile_loadd(0, weights0 + weight_at, block_columns);
      _tile_loadd(2, tokens0 + token_at, 4 * kInt8TokenGroup);
      _tile_dpbusd(4, 0, 2);
      if constexpr (kTwoGroups) {
        _tile_loadd(3, tokens1 + token_at, 4 * kInt8TokenGroup);
        _tile_dpbusd(5, 0, 3);
      }
      if constexpr (kTwoTiles) {
        _tile_loadd(1, weights1 + weight_at, block_columns);
        _tile_dpbusd(6, 1, 2);
        if constexpr (kTwoGroups) _tile_dpbusd(7, 1, 3);
      }
    }
    if (b > first_block) scale_block(b - 1);
    auto& stored = sums[b % 2];
    _tile_stored(4, stored[0][0], 4 * kInt8TokenGroup);
    if constexpr (kTwoGroups) _tile_stored(5, stored[0][1], 4 * kInt8TokenGroup);
    if constexpr (kTwoTiles) _tile_stored(6, stored[1][0], 4 * kInt8TokenGroup);
    if constexpr (kTwoTiles && kTwoGroups) _tile_stored(7, stored[1][1], 4 * kInt8TokenGroup);
  }
  if (end_block > first_block) scale_block(end_block - 1);
}

void gemm_int8_tiles(const uint8_t* tiles, const float* tile_scales, size_t rows, const Int8Activations& a, float* y,
                     size_t y_stride) {
  if (a.block_columns != 32 && a.block_columns != 256) {
    // int8_block_columns() gives no other size; a caller with another keeps the right answer.
    gemm_int8_tiles_ref(tiles, tile_scales, rows, a, y, y_stride);
    return;
  }
  configure_tiles(a.block_columns == 32 ? 32 : 64);
  const size_t tile_count = (rows + kInt8TileRows - 1) / kInt8TileRows, groups = a.padded_tokens / kInt8TokenGroup;
  const size_t tile_pairs = (tile_count + 1) / 2, group_pairs = (groups + 1) / 2;
  // Columns in spans whose activations (every token's) fit in half of L2 beside the weights, each
  // span over every tile and group before the next: w2's 14336 columns x 128 tokens (1.8 MB)
  // streamed once per pair of tiles from L3 ran at half the rate of 4096 columns.
  constexpr size_t kSpanBytes = 768 << 10;
  const size_t span_blocks = std::max<size_t>(1, kSpanBytes / (a.block_columns * a.padded_tokens));
  std::vector<AlignedTotals> totals(tile_pairs * group_pairs);  // value-initialized: zeros
  for (size_t first_block = 0; first_block < a.blocks; first_block += span_blocks) {
    const size_t end_block = std::min(a.blocks, first_block + span_blocks);
    for (size_t tile = 0; tile < tile_count; tile += 2) {
      const bool two_tiles = tile + 1 < tile_count;
      for (size_t group = 0; group < groups; group += 2) {
        const bool two_groups = group + 1 < groups;
        Totals& pair_totals = totals[(tile / 2) * group_pairs + group / 2].sums;
        if (two_tiles && two_groups) {
          tile_product<true, true>(tiles, tile_scales, tile, a, group, first_block, end_block, pair_totals);
        } else if (two_tiles) {
          tile_product<true, false>(tiles, tile_scales, tile, a, group, first_block, end_block, pair_totals);
        } else if (two_groups) {
          tile_product<false, true>(tiles, tile_scales, tile, a, group, first_block, end_block, pair_totals);
        } else {
          tile_product<false, false>(tiles, tile_scales, tile, a, group, first_block, end_block, pair_totals);
        }
      }
    }
  }
  for (size_t tile = 0; tile < tile_count; ++tile) {
    const size_t first_row = tile * kInt8TileRows, row_count = std::min(kInt8TileRows, rows - first_row);
    for (size_t group = 0; group * kInt8TokenGroup < a.tokens; ++group) {
      const Totals& pair_totals = totals[(tile / 2) * group_pairs + group / 2].sums;
      const size_t first_token = group * kInt8TokenGroup;
      const size_t token_count = std::min(kInt8TokenGroup, a.tokens - first_token);
      for (size_t t = 0; t < token_count; ++t) {
        for (size_t r = 0; r < row_count; ++r)
          y[(first_token + t) * y_stride + first_row + r] = pair_totals[tile % 2][group % 2][r][t];
      }
    }
  }
  _tile_release();
}

// Linux hands out AMX's 8 KiB of tile state only to processes that ask (arch_prctl
// ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA, since 5.16); without it tile instructions fault.
bool tile_data_granted() {
  constexpr int kArchRequestPermission = 0x1023, kTileData = 18;
  static const bool granted = syscall(SYS_arch_prctl, kArchRequestPermission, kTileData) == 0;
  return granted;
}

bool runs_here() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.amx_int8 && avx512_vnni_int8_kernels() != nullptr && tile_data_granted();
}

}  // namespace

const Int8PromptKernels* amx_int8_kernels() {
  if (!runs_here()) return nullptr;
  // The AVX-512 table's quantizers: the same bytes for every table; only the tiles differ.
  static const Int8PromptKernels kernels = [] {
    Int8PromptKernels table = *avx512_vnni_int8_kernels();
    table.amx = true;
    table.tiles = gemm_int8_tiles;
    table.pack_tile = pack_int8_tile_rows_ref;  // a copy per block and row
    table.pack_tile_ref = pack_int8_tile_rows_ref;
    table.rows_as_tiles = true;
    // AMX crosses over earliest (ops/gemm.h).
    table.types[static_cast<size_t>(TensorType::q4k)].min_tokens = 10;
    table.types[static_cast<size_t>(TensorType::q3k)].min_tokens = 12;
    // Interleaved rows as their row types: the later crossover measured for the VNNI tiles
    // has not been measured against AMX's.
    table.types[static_cast<size_t>(TensorType::q4k_x8)].min_tokens = 0;
    table.types[static_cast<size_t>(TensorType::q8_x8)].min_tokens = 0;
    return table;
  }();
  return &kernels;
}

}  // namespace smoe::quant
