// Prompt-time matrix products in 8-bit integers, for x86 CPUs with AVX2 (with AMX-INT8,
// AVX512-VNNI or AVX-VNNI where present).
//
// Why: a prompt multiplies each weight matrix by many tokens, so its speed is the multiply
// rate. Without AMX, oneDNN's bf16 matmul issues one vdpbf16ps (32 multiply-adds) where
// vpdpbusd does 64 in the same slot (Zen 4: both 0.75 TSC ticks per zmm instruction); on AVX2
// CPUs without bf16 or VNNI, oneDNN's f32 sgemm does 8 per FMA where four integer instructions
// do 32 (gemm_int8_avx2.cpp). Here the
// weights, decoded once per chunk of rows, and the activations are both requantized to int8
// with one scale per block of a row (per token for activations), at the decode path's
// granularity or finer: blocks of 32 for q8, q4 and q6k weights (q8's own blocks, so its values
// come back exactly, and the q8a activations of decoding), 256 for q4k and q3k (q8k's).
//
// Layout, chosen for the AVX-512 kernel (12 weight rows x 32 tokens per tile, 24 zmm
// accumulators, one pointer each for weights and activations; the AVX-VNNI kernel takes each
// tile in two halves of 6 rows x 16 tokens, 12 ymm accumulators, the plain AVX2 one in quarters
// of 3 rows x 16 tokens, 6 accumulators):
// - Activations: per group of 16 tokens and block, block / 4 steps of [16 tokens][4 bytes] (the
//   s8 operand of vpdpbusd, one zmm per step).
// - Weights: tiles of 12 rows, per block block / 4 steps of [12 rows][4 bytes] of u8 = int8
//   value + 128 (the u8 operand, broadcast 4 bytes at a time), and per block the 12 rows'
//   scales. The +128 is taken off by starting each block's sums at -128 x its activation sum.
// Products are exact in int32 within a block (|sum| <= 256 x 255 x 127); blocks are scaled and
// summed in f32.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "quant/isa.h"
#include "quant/formats/tensor_type.h"

namespace smoe::quant {

// The kernel table (below); nullptr in the functions that take one: the references.
struct Int8PromptKernels;

inline constexpr size_t kInt8TokenGroup = 16;  // tokens per activation vector
inline constexpr size_t kInt8TileRows = 12;    // weight rows per tile

// Columns per scale for weights of `type`: 256 for q4k and q3k, 32 for the others.
size_t int8_block_columns(TensorType type);

// A block's max |x| -> value ~= scale x q, q = rint(x x multiplier) with multiplier = 1 / scale
// (q8a's rule: prompts and decoding quantize activations alike). A block too small for a finite
// multiplier (max |x| below ~3.7e-37: denormals) is zeros; one holding a NaN or an infinity
// (`finite` false) is zeros with a NaN scale, so that its products are NaN as float ones are.
struct Int8BlockScale {
  float scale, multiplier;  // multiplier 0: every value of the block quantizes to 0
};
inline Int8BlockScale int8_block_scale(float max_abs, bool finite) {
  if (!finite) return {std::numeric_limits<float>::quiet_NaN(), 0.0f};
  const float scale = max_abs / 127.0f;
  const float multiplier = scale > 0.0f ? 1.0f / scale : 0.0f;
  return multiplier <= std::numeric_limits<float>::max() ? Int8BlockScale{scale, multiplier}
                                                         : Int8BlockScale{0.0f, 0.0f};
}

inline size_t int8_blocks(size_t columns, size_t block_columns) {
  return (columns + block_columns - 1) / block_columns;
}

// A batch of activations quantized and laid out for the kernel.
struct Int8Activations {
  size_t tokens = 0, padded_tokens = 0;  // padded_tokens: a multiple of kInt8TokenGroup
  size_t columns = 0;                    // of each token's row
  size_t block_columns = 0, blocks = 0;  // columns per scale (32 or 256), blocks per row
  std::vector<int8_t> values;            // [token group][block][step][16][4]
  std::vector<float> scales;             // [block][padded_tokens]
  std::vector<int32_t> offsets;          // [block][padded_tokens]: -128 x sum of values
};

// x (tokens, columns) row-major -> out, blocks of `block_columns` (32 or 256); padding tokens
// and columns are zeros. In two parts for callers that share the tokens out over threads:
// resize (and zero) `out`, then quantize each token's row into it.
void quantize_activations_int8(const Int8PromptKernels* kernels, const float* x, size_t tokens, size_t columns,
                               size_t block_columns,
                               Int8Activations& out);
void resize_int8_activations(size_t tokens, size_t columns, size_t block_columns, Int8Activations& out);
// The reference and the fastest version (the same bytes).
void quantize_activation_int8_ref(const float* row, size_t token, Int8Activations& out);
void quantize_activation_int8(const Int8PromptKernels* kernels, const float* row, size_t token, Int8Activations& out);

// One weight row (columns,) f32 -> int8_blocks(columns, block_columns) x block_columns bytes of
// value + 128 at `q` and one scale per block at `scales` (value ~= scale x (q - 128),
// int8_block_scale), row-major. Reference and the fastest version this CPU runs (the same
// bits: both round x * multiplier to nearest even). block_columns: 32 or 256.
void quantize_weight_row_int8_ref(const float* row, size_t columns, size_t block_columns, uint8_t* q, float* scales);
void quantize_weight_row_int8(const Int8PromptKernels* kernels, const float* row, size_t columns, size_t block_columns,
                              uint8_t* q, float* scales);

// `n` weights of q8 blocks -> quantize_weight_row_int8's layout with blocks of 32 without
// decoding: each value's byte + 128 and the block's f16 scale as f32, so the products are the
// decode path's. That is exactly what requantizing the decoded values gives whenever a block's
// largest |q| is 127 and its scale d a positive normal f16 (then max |d q| / 127 = d and
// rint(d q / d) = q in f32): q8's quantizer writes such blocks except where max |x| is below
// ~7.8e-3 and d, an f16 subnormal, rounds up (largest |q| 126 or less). There, and for a
// negative d an imported file may hold, the stored values are kept where requantizing would
// round them again.
void q8_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales);

// `n` weights of `type`'s blocks -> quantize_weight_row_int8's layout with int8_block_columns(type):
// the reference decodes them (dequantize_row) and requantizes the values
// (quantize_weight_row_int8_ref). The AVX-512 and AVX2 versions for q4, q4k, q6k and q3k give the
// same bytes and scales without the f32 values in memory (x86/row_as_int8.h, built once with
// each instruction set's flags; x86 builds only), named by the x86 int8 tables' rows
// (Int8TypeKernels). For the block-quantized types (q8, q4, q4k, q6k, q3k) only.
void row_as_int8_ref(TensorType type, const void* blocks, size_t n, uint8_t* q, float* scales);
using RowAsInt8Fn = void (*)(const void* blocks, size_t n, uint8_t* q, float* scales);
using RowAsInt8ByType = std::array<RowAsInt8Fn, kTensorTypeCount>;  // nullptr: none for that type
const RowAsInt8ByType& avx512_row_as_int8();
const RowAsInt8ByType& avx2_row_as_int8();

// Bytes and scales of one packed tile of 12 rows over `blocks` blocks.
inline size_t int8_tile_bytes(size_t blocks, size_t block_columns) { return blocks * block_columns * kInt8TileRows; }
inline size_t int8_tile_scales(size_t blocks) { return blocks * kInt8TileRows; }

// `rows` (<= 12) row-major rows from quantize_weight_row_int8 (`q`: rows x block_columns x
// blocks bytes, `scales`: rows x blocks) -> one tile: values [block][step][12][4], scales
// [block][12]; the missing rows are zeros (128, scale 0). Reference and the fastest version
// (the same bytes).
void pack_int8_tile_ref(const uint8_t* q, const float* scales, size_t rows, size_t blocks, size_t block_columns,
                        uint8_t* tile, float* tile_scales);
void pack_int8_tile(const Int8PromptKernels* kernels, const uint8_t* q, const float* scales, size_t rows, size_t blocks,
                    size_t block_columns,
                    uint8_t* tile, float* tile_scales);
// The AMX kernel's tiles, of the same size: values [block][12 rows][block_columns] (a block's
// rows contiguous: a tile load of 12 rows streams one piece of memory; on rows of 4096 or 14336
// bytes, 12 rows fell in one or two sets of L1 and the kernel ran at half speed), scales
// [block][12]; missing rows 128 with scale 0. place_int8_tile_row puts one row (its
// quantize_weight_row_int8 bytes and scales) in its place: callers that have one row at a time
// (Int8PromptKernels::rows_as_tiles) place it while it is in L1, then pad_int8_tile_rows makes
// rows `rows`..11 the missing ones.
void place_int8_tile_row(const uint8_t* q, const float* scales, size_t row, size_t blocks, size_t block_columns,
                         uint8_t* tile, float* tile_scales);
void pad_int8_tile_rows(size_t rows, size_t blocks, size_t block_columns, uint8_t* tile, float* tile_scales);
void pack_int8_tile_rows_ref(const uint8_t* q, const float* scales, size_t rows, size_t blocks, size_t block_columns,
                             uint8_t* tile, float* tile_scales);

// y[t * y_stride + r] = sum over blocks b of scale[r][b] x a.scales[b][t] x
// sum_k (q[r][block b, k] - 128) x value[t][block b, k], for the `rows` rows of the packed
// tiles (ceil(rows / 12) of them, back to back, with a's block_columns; scales likewise) and
// t < a.tokens.
void gemm_int8_tiles_ref(const uint8_t* tiles, const float* tile_scales, size_t rows, const Int8Activations& a,
                         float* y, size_t y_stride);

// q4k weights multiplied as stored, for the plain AVX2 kernel (where its requantized-int8 tile
// product needs four instructions per 32 multiply-adds): the tiles hold each weight's nibble
// q (0..15) in the layout above (pack_int8_tile of rows of nibbles: blocks of 256 columns),
// and per block and row the eight 6-bit scales and minimums as int16 ([block][row][16]) and
// (d, dmin) as f32 ([block][row][2]); padding rows have zero scales. Then
//   y[t][r] = sum_b a.scales[b][t] x (d x sum_j sc_j (q_j . a_j) - dmin x sum_j m_j sum(a_j))
// over sub-blocks j of 32: the decode path's q4k x q8k product (dot_q4k_q8k_ref) with the int8
// activations of 256-column blocks. Nibbles <= 15 against |a| <= 127 let eight steps of
// vpmaddubsw pairs add up in int16 (8 x 2 x 15 x 127 = 30480) before one vpmaddwd by the
// sub-block's scale: no sign trick, a quarter of the requantized product's instructions.
inline size_t q4k_tile_scale_shorts(size_t blocks) { return blocks * kInt8TileRows * 16; }
inline size_t q4k_tile_super_scales(size_t blocks) { return blocks * kInt8TileRows * 2; }

// `blocks` q4k blocks of one row -> 256 nibbles each at `q` (row-major, for pack_int8_tile), the
// unpacked scales and minimums at `scale_minimums` (16 int16 per block) and (d, dmin) at
// `super_scales`. Reference and the AVX2 version (the same bytes; nullptr without AVX2).
void q4k_row_nibbles_ref(const void* blocks, size_t n_blocks, uint8_t* q, int16_t* scale_minimums, float* super_scales);
using Q4kRowNibblesFn = void (*)(const void* blocks, size_t n_blocks, uint8_t* q, int16_t* scale_minimums,
                                 float* super_scales);

// The per-sub-block sums of the activations (256-column blocks) the minimum terms need:
// [block][pair of sub-blocks p][padded token][2] int16 (sub-blocks 2p and 2p + 1).
void int8_sub_block_sums(const Int8Activations& a, std::vector<int16_t>& sums);

// The product above for the `rows` rows of the packed q4k tiles (values as pack_int8_tile lays
// them out, `scale_minimums` and `super_scales` per tile back to back) and t < a.tokens.
void gemm_q4k_tiles_ref(const uint8_t* tiles, const int16_t* scale_minimums, const float* super_scales, size_t rows,
                        const Int8Activations& a, const int16_t* sub_sums, float* y, size_t y_stride);
using GemmQ4kTilesFn = void (*)(const uint8_t* tiles, const int16_t* scale_minimums, const float* super_scales,
                                size_t rows, const Int8Activations& a, const int16_t* sub_sums, float* y,
                                size_t y_stride);

// One instruction set's kernels of the int8 prompt products, as the dot kernels come in
// tables (kernels.h). The product equals the reference up to f32 rounding of the block sums
// (fused multiply-adds); the others give the reference's bytes.
using GemmInt8TilesFn = void (*)(const uint8_t* tiles, const float* tile_scales, size_t rows, const Int8Activations& a,
                                 float* y, size_t y_stride);
using QuantizeWeightRowInt8Fn = void (*)(const float* row, size_t columns, size_t block_columns, uint8_t* q,
                                         float* scales);
using PackInt8TileFn = void (*)(const uint8_t* q, const float* scales, size_t rows, size_t blocks, size_t block_columns,
                                uint8_t* tile, float* tile_scales);
using QuantizeActivationInt8Fn = void (*)(const float* row, size_t token, Int8Activations& out);
// One weight type's part of an int8 table (its row).
struct Int8TypeKernels {
  // Rows of the type straight to quantize_weight_row_int8's layout (row_as_int8_ref's bytes);
  // nullptr: decoded (TypeKernels::to_f32) and requantized.
  RowAsInt8Fn row_as_int8 = nullptr;
  // The smallest batch that goes through the int8 path (ops::int8_gemm_min_tokens); 0: the
  // table's default_min_tokens.
  uint32_t min_tokens = 0;
};
struct Int8PromptKernels {
  Isa isa = Isa::avx2;  // the dot kernels' level these go with (avx512-vnni for AMX's)
  bool amx = false;     // tdpbusd tiles
  GemmInt8TilesFn tiles = nullptr;
  QuantizeWeightRowInt8Fn quantize_weight_row = nullptr;
  PackInt8TileFn pack_tile = nullptr;
  QuantizeActivationInt8Fn quantize_activation = nullptr;
  // q4k multiplied as stored (the plain AVX2 table); nullptr: q4k rows are requantized.
  Q4kRowNibblesFn q4k_row_nibbles = nullptr;
  GemmQ4kTilesFn q4k_tiles = nullptr;
  // The reference of pack_tile's layout: pack_int8_tile_ref, or pack_int8_tile_rows_ref (AMX,
  // rows_as_tiles: rows are placed one at a time, place_int8_tile_row).
  PackInt8TileFn pack_tile_ref = pack_int8_tile_ref;
  bool rows_as_tiles = false;
  // Each weight type's row, by type id (rows_by_type), and the crossover of types without one.
  std::array<Int8TypeKernels, kTensorTypeCount> types{};
  uint32_t default_min_tokens = 16;

  const Int8TypeKernels& for_type(TensorType type) const { return types[static_cast<size_t>(type)]; }
};

// An x86 int8 table's rows: each type's requantizer (row_as_int8 of one build) and the batch where
// the int8 path starts for it (ops/gemm.h, int8_gemm_min_tokens).
using MinTokensByType = std::array<uint32_t, kTensorTypeCount>;  // 0: the table's default
std::array<Int8TypeKernels, kTensorTypeCount> int8_type_rows(const RowAsInt8ByType& requantizers,
                                                             const MinTokensByType& min_tokens);
// The crossovers of the VNNI tables (avx512-vnni, avx2-vnni; AMX starts two types earlier).
const MinTokensByType& vnni_min_tokens();

// The AMX-INT8 kernel (tdpbusd on 12-row weight tiles and 16-token activation tiles, with the
// AVX-512 table's quantizers; for CPUs with AMX-INT8 whose OS grants the tile state), the
// AVX512-VNNI kernels (zmm: 12 rows x 32 tokens a tile), the AVX-VNNI ones (ymm, VEX
// vpdpbusd: 6 rows x 16 tokens, for CPUs with AVX2 and AVX-VNNI but no AVX-512) and the plain
// AVX2 ones (vpmaddubsw: 3 rows x 16 tokens); nullptr when not compiled in or the CPU lacks the
// features. int8_kernel_tables(): those this CPU runs, best first.
const Int8PromptKernels* amx_int8_kernels();
const Int8PromptKernels* avx512_vnni_int8_kernels();
const Int8PromptKernels* avx2_vnni_int8_kernels();
const Int8PromptKernels* avx2_int8_kernels();
std::vector<const Int8PromptKernels*> int8_kernel_tables();

// "amx", or the level's name ("avx512-vnni", "avx2-vnni", "avx2").
std::string_view int8_kernels_name(const Int8PromptKernels& kernels);
// The int8 prompt kernels that go with dot kernels of `isa` (nullptr where there are none: scalar,
// avx512 without VNNI, arm, or not on this CPU); with `amx`, AMX's where `isa` is avx512-vnni and
// this CPU and OS run AMX-INT8.
const Int8PromptKernels* int8_kernels_for(Isa isa, bool amx);

}  // namespace smoe::quant
