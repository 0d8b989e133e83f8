// Prompt-time products in 8-bit integers (quant/gemm_int8.h) for quantized weights on CPUs
// with AVX512-VNNI or AVX-VNNI and no AMX: the activations are quantized once, then each thread
// takes chunks of 48 weight rows, brings them to int8 (688 KB for a 14336-column chunk: it stays
// in L2 while every token passes over it) and runs the tile kernel on them. q8 rows are int8
// already (taken as stored), q4, q4k, q6k and q3k rows requantized straight from their blocks,
// other types decoded to f32 in strips and requantized.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "format/panels.h"
#include "ops/gemm.h"
#include "quant/gemm_int8.h"
#include "quant/kernels.h"
#include "smoe/error.h"

namespace smoe::ops {
namespace {

constexpr size_t kTiles = 4;
constexpr size_t kStripColumns = 1024;
constexpr size_t kChunkRows = kTiles * quant::kInt8TileRows;

void quantize_input(const quant::Int8PromptKernels& kernels, const float* x, size_t n_tokens, size_t in,
                    size_t block_columns, int threads, quant::Int8Activations& activations) {
  quant::resize_int8_activations(n_tokens, in, block_columns, activations);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t t = 0; t < n_tokens; ++t) quant::quantize_activation_int8(&kernels, x + t * in, t, activations);
}

// y = x W^T for q4k weights multiplied as stored (Int8PromptKernels::q4k_tiles): per chunk of
// rows their nibbles packed into tiles, their scales beside them.
void multiply_q4k(const CpuContext& cpu, const format::TensorView& w, const quant::Int8Activations& activations,
                  const int16_t* sub_sums, float* y) {
  const quant::Int8PromptKernels& kernels = *cpu.plan.int8_prompt;
  const size_t rows = w.shape[0], n_tokens = activations.tokens, blocks = activations.blocks;
  const size_t columns = blocks * 256, chunks = (rows + kChunkRows - 1) / kChunkRows;
#pragma omp parallel num_threads(cpu.threads)
  {
    std::vector<uint8_t> nibbles(quant::kInt8TileRows * columns), tiles(kTiles * quant::int8_tile_bytes(blocks, 256));
    std::vector<int16_t> row_scales(quant::kInt8TileRows * blocks * 16),
        tile_scales(kTiles * quant::q4k_tile_scale_shorts(blocks));
    std::vector<float> row_supers(quant::kInt8TileRows * blocks * 2),
        tile_supers(kTiles * quant::q4k_tile_super_scales(blocks));
    std::vector<float> unused_scales(quant::kInt8TileRows * blocks),
        unused_tile_scales(quant::int8_tile_scales(blocks));
    std::vector<float> products(n_tokens * kChunkRows);
    format::RowReader reader(w, *cpu.plan.kernels);
#pragma omp for schedule(static)
    for (size_t chunk = 0; chunk < chunks; ++chunk) {
      const size_t first = chunk * kChunkRows, count = std::min(kChunkRows, rows - first);
      std::fill(tile_scales.begin(), tile_scales.end(), int16_t{0});  // padding rows: zero scales
      std::fill(tile_supers.begin(), tile_supers.end(), 0.0f);
      for (size_t tile = 0; tile * quant::kInt8TileRows < count; ++tile) {
        const size_t tile_first = first + tile * quant::kInt8TileRows;
        const size_t tile_rows = std::min(quant::kInt8TileRows, first + count - tile_first);
        for (size_t r = 0; r < tile_rows; ++r) {
          reader.for_each_piece(
              tile_first + r, [&](const std::byte* piece, uint64_t column, uint64_t piece_columns) {
                const size_t block = column / 256;
                kernels.q4k_row_nibbles(piece, piece_columns / 256, &nibbles[r * columns + column],
                                        &row_scales[(r * blocks + block) * 16], &row_supers[(r * blocks + block) * 2]);
              });
          for (size_t b = 0; b < blocks; ++b) {
            std::copy_n(
                &row_scales[(r * blocks + b) * 16], 16,
                &tile_scales[tile * quant::q4k_tile_scale_shorts(blocks) + (b * quant::kInt8TileRows + r) * 16]);
            std::copy_n(&row_supers[(r * blocks + b) * 2], 2,
                        &tile_supers[tile * quant::q4k_tile_super_scales(blocks) + (b * quant::kInt8TileRows + r) * 2]);
          }
        }
        kernels.pack_tile(nibbles.data(), unused_scales.data(), tile_rows, blocks, 256,
                          &tiles[tile * quant::int8_tile_bytes(blocks, 256)], unused_tile_scales.data());
      }
      kernels.q4k_tiles(tiles.data(), tile_scales.data(), tile_supers.data(), count, activations, sub_sums,
                        products.data(), kChunkRows);
      for (size_t t = 0; t < n_tokens; ++t) {
        std::copy_n(&products[t * kChunkRows], count, y + t * rows + first);
      }
    }
  }
}

// y = x W^T for the activations quantized at W's block size and width.
void multiply(const CpuContext& cpu, const format::TensorView& w, const quant::Int8Activations& activations,
              float* y) {
  const quant::Int8PromptKernels& kernels = *cpu.plan.int8_prompt;
  const size_t rows = w.shape[0], n_tokens = activations.tokens;
  const size_t block_columns = activations.block_columns, blocks = activations.blocks;
  const size_t columns = blocks * block_columns;
  const size_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  // Rows brought to int8 straight from their blocks where the table's row has that kernel: q8
  // weights are int8 already, taken as stored (the same values for q8's normal blocks, the
  // stored ones otherwise: q8_row_as_int8); q4, q4k, q6k and q3k requantized without the f32
  // round trip. Others are decoded by the dot kernels' table.
  const quant::TensorType type = quant::row_type(w.type);  // rows as RowReader gives them
  const quant::RowAsInt8Fn as_int8 =
      block_columns == quant::int8_block_columns(type) ? kernels.for_type(type).row_as_int8 : nullptr;
  const auto to_f32 = cpu.plan.kernels->for_type(type).to_f32;
#pragma omp parallel num_threads(cpu.threads)
  {
    std::vector<float> decoded(kStripColumns);
    // One row at a time where rows are placed in their tiles straight away (AMX's), else a tile's.
    const size_t buffered_rows = kernels.rows_as_tiles ? 1 : quant::kInt8TileRows;
    std::vector<uint8_t> quantized(buffered_rows * columns),
        tiles(kTiles * quant::int8_tile_bytes(blocks, block_columns));
    std::vector<float> products(n_tokens * kChunkRows);
    std::vector<float> scales(buffered_rows * blocks), tile_scales(kTiles * quant::int8_tile_scales(blocks));
    format::RowReader reader(w, *cpu.plan.kernels);
#pragma omp for schedule(static)
    for (size_t chunk = 0; chunk < chunks; ++chunk) {
      const size_t first = chunk * kChunkRows, count = std::min(kChunkRows, rows - first);
      for (size_t tile = 0; tile * quant::kInt8TileRows < count; ++tile) {
        const size_t tile_first = first + tile * quant::kInt8TileRows;
        const size_t tile_rows = std::min(quant::kInt8TileRows, first + count - tile_first);
        uint8_t* tile_bytes = &tiles[tile * quant::int8_tile_bytes(blocks, block_columns)];
        float* tile_row_scales = &tile_scales[tile * quant::int8_tile_scales(blocks)];
        for (size_t r = 0; r < tile_rows; ++r) {
          const size_t buffered = kernels.rows_as_tiles ? 0 : r;
          // Pieces (panels) start at whole blocks of the type and of the int8 blocks. Rows brought
          // to int8 straight from their blocks take a piece at once (q4k's requantizer finds
          // eight blocks' scales together); others are decoded to f32 in strips of 1024 columns
          // (4 KB: in L1) and requantized.
          const auto requantize = [&](const std::byte* piece, uint64_t column, uint64_t piece_columns) {
            uint8_t* q = &quantized[buffered * columns + column];
            float* q_scales = &scales[buffered * blocks + column / block_columns];
            if (as_int8 != nullptr) {
              as_int8(piece, piece_columns, q, q_scales);
              return;
            }
            for (uint64_t done = 0; done < piece_columns; done += kStripColumns) {
              const size_t strip = std::min<uint64_t>(kStripColumns, piece_columns - done);
              to_f32(piece + *quant::row_bytes(type, done), decoded.data(), strip);
              quant::quantize_weight_row_int8(&kernels, decoded.data(), strip, block_columns, q + done,
                                              q_scales + done / block_columns);
            }
          };
          reader.for_each_piece(tile_first + r, requantize);
          if (kernels.rows_as_tiles) {  // the row's bytes in their places while in L1
            quant::place_int8_tile_row(quantized.data(), scales.data(), r, blocks, block_columns, tile_bytes,
                                       tile_row_scales);
          }
        }
        if (kernels.rows_as_tiles) {
          quant::pad_int8_tile_rows(tile_rows, blocks, block_columns, tile_bytes, tile_row_scales);
        } else {
          kernels.pack_tile(quantized.data(), scales.data(), tile_rows, blocks, block_columns, tile_bytes,
                            tile_row_scales);
        }
      }
      // Into a chunk-wide buffer, then one copy per token: the tiles' scattered stores land in
      // a few pages instead of one page of y per token and tile.
      kernels.tiles(tiles.data(), tile_scales.data(), count, activations, products.data(), kChunkRows);
      for (size_t t = 0; t < n_tokens; ++t) {
        std::copy_n(&products[t * kChunkRows], count, y + t * rows + first);
      }
    }
  }
}

}  // namespace

size_t int8_gemm_min_tokens(quant::TensorType type, const quant::Int8PromptKernels& kernels) {
  // The stored type's own crossover (interleaved rows have faster per-token kernels), else its
  // row type's, else the table's.
  uint32_t min_tokens = kernels.for_type(type).min_tokens;
  if (min_tokens == 0) min_tokens = kernels.for_type(quant::row_type(type)).min_tokens;
  return min_tokens != 0 ? min_tokens : kernels.default_min_tokens;
}

void gemm_int8_shared_input(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens,
                            const CpuContext& cpu) {
  const quant::Int8PromptKernels* kernels = cpu.plan.int8_prompt;
  quant::Int8Activations activations;  // the input's last quantization, reused while block size and width agree
  std::vector<int16_t> sub_sums;       // its sub-block sums, for q4k multiplied as stored
  for (const MatmulOutput& output : outputs) {
    const format::TensorView& w = *output.w;
    if (kernels == nullptr) {
      throw Error(w.name,
                  "the CPU plan has no int8 prompt kernels (" + cpu.plan.kernels_name() + ", prompts " +
                      cpu.plan.prompt_products() + ")");
    }
    const quant::TensorType type = quant::row_type(w.type);  // q4k_x8's rows are q4k, q8_x8's q8
    const size_t block_columns = quant::int8_block_columns(type), in = w.shape[1];
    if (activations.values.empty() || activations.block_columns != block_columns || activations.columns != in) {
      quantize_input(*kernels, x, n_tokens, in, block_columns, cpu.threads, activations);
      sub_sums.clear();
    }
    if (type == quant::TensorType::q4k && kernels->q4k_tiles != nullptr) {
      if (sub_sums.empty()) quant::int8_sub_block_sums(activations, sub_sums);
      multiply_q4k(cpu, w, activations, sub_sums.data(), output.y);
    } else {
      multiply(cpu, w, activations, output.y);
    }
  }
}

void gemm_int8(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu) {
  const MatmulOutput output{&w, y};
  gemm_int8_shared_input({&output, 1}, x, n_tokens, cpu);
}

}  // namespace smoe::ops
