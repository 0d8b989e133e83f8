// Scalar references of the int8 prompt products, the activations' packing (shared by every
// ISA: a small part of a prompt's work) and the choice of the path.
#include "quant/gemm_int8.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/convert_row.h"
#include "quant/cpu_features.h"
#include "quant/formats/half.h"
#include "quant/kernels.h"

namespace smoe::quant {
namespace {

// max |x| of n values and whether all are finite.
Int8BlockScale scale_of(const float* x, size_t n) {
  float largest = 0.0f;
  bool finite = true;
  for (size_t i = 0; i < n; ++i) {
    finite = finite && std::isfinite(x[i]);
    largest = std::max(largest, std::fabs(x[i]));
  }
  return int8_block_scale(largest, finite);
}

// x (count values, zeros after them up to `block`) -> q.
template <class Out>
void quantize_block(const float* x, size_t count, size_t block, Int8BlockScale s, Out&& out) {
  for (size_t i = 0; i < block; ++i) {
    out(i, i < count && s.multiplier != 0.0f ? static_cast<int>(std::nearbyint(x[i] * s.multiplier)) : 0);
  }
}

}  // namespace

size_t int8_block_columns(TensorType type) {
  // Blocks of 256 are ~20% faster (one f32 update per 64 vpdpbusd per accumulator instead of per
  // 8), blocks of 32 closer to the weights. q6k's error shrinks visibly with blocks of 32
  // (mixtral-small, mean KLD 0.0044 with 256); for the 4- and 3-bit types their own error
  // dwarfs the difference (docs/QUANTIZATION.md).
  return type == TensorType::q4k || type == TensorType::q3k ? 256 : 32;
}

void resize_int8_activations(size_t tokens, size_t columns, size_t block_columns, Int8Activations& out) {
  const size_t blocks = int8_blocks(columns, block_columns);
  const size_t padded = (tokens + kInt8TokenGroup - 1) / kInt8TokenGroup * kInt8TokenGroup;
  out.tokens = tokens;
  out.padded_tokens = padded;
  out.columns = columns;
  out.block_columns = block_columns;
  out.blocks = blocks;
  out.values.assign(padded * blocks * block_columns, 0);
  out.scales.assign(blocks * padded, 0.0f);
  out.offsets.assign(blocks * padded, 0);
}

void quantize_activation_int8_ref(const float* row, size_t token, Int8Activations& out) {
  const size_t block_columns = out.block_columns, steps = block_columns / 4, padded = out.padded_tokens;
  int8_t q[256];  // block_columns <= 256
  for (size_t b = 0; b < out.blocks; ++b) {
    const size_t first = b * block_columns, count = std::min(block_columns, out.columns - first);
    const Int8BlockScale s = scale_of(row + first, count);
    int32_t sum = 0;
    quantize_block(row + first, count, block_columns, s, [&](size_t i, int value) {
      q[i] = static_cast<int8_t>(value);
      sum += value;
    });
    out.scales[b * padded + token] = s.scale;
    out.offsets[b * padded + token] = -128 * sum;
    // Step j of the block: bytes 4j .. 4j + 3 at lane token % 16 of the group's zmm.
    int8_t* group = out.values.data() + ((token / kInt8TokenGroup) * out.blocks + b) * block_columns * kInt8TokenGroup;
    for (size_t j = 0; j < steps; ++j)
      std::memcpy(group + (j * kInt8TokenGroup + token % kInt8TokenGroup) * 4, &q[4 * j], 4);
  }
}

void quantize_activation_int8(const Int8PromptKernels* kernels, const float* row, size_t token, Int8Activations& out) {
  (kernels ? kernels->quantize_activation : quantize_activation_int8_ref)(row, token, out);
}

void quantize_activations_int8(const Int8PromptKernels* kernels, const float* x, size_t tokens, size_t columns,
                               size_t block_columns, Int8Activations& out) {
  resize_int8_activations(tokens, columns, block_columns, out);
  for (size_t t = 0; t < tokens; ++t) quantize_activation_int8(kernels, x + t * columns, t, out);
}

void quantize_weight_row_int8_ref(const float* row, size_t columns, size_t block_columns, uint8_t* q, float* scales) {
  for (size_t b = 0; b < int8_blocks(columns, block_columns); ++b) {
    const size_t first = b * block_columns, count = std::min(block_columns, columns - first);
    const Int8BlockScale s = scale_of(row + first, count);
    scales[b] = s.scale;
    quantize_block(row + first, count, block_columns, s,
                   [&](size_t i, int value) { q[first + i] = static_cast<uint8_t>(value + 128); });
  }
}

void quantize_weight_row_int8(const Int8PromptKernels* kernels, const float* row, size_t columns, size_t block_columns,
                              uint8_t* q, float* scales) {
  (kernels ? kernels->quantize_weight_row : quantize_weight_row_int8_ref)(row, columns, block_columns, q, scales);
}

void q8_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  const auto* block = static_cast<const BlockQ8*>(blocks);
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    scales[b] = f16_to_f32(block[b].d);
    for (size_t i = 0; i < BlockQ8::kElements; ++i) {
      q[b * BlockQ8::kElements + i] = static_cast<uint8_t>(static_cast<uint8_t>(block[b].qs[i]) ^ 0x80u);
    }
  }
}

void row_as_int8_ref(TensorType type, const void* blocks, size_t n, uint8_t* q, float* scales) {
  const TypeTraits& traits = type_traits(type);
  assert(traits.is_quantized && traits.block_elements % 32 == 0 && traits.block_elements <= 256);
  const size_t block_columns = int8_block_columns(type), type_block = traits.block_elements;
  float values[256];  // the largest block of a quantized type
  for (size_t b = 0; b < n / type_block; ++b) {
    dequantize_row(type, static_cast<const std::byte*>(blocks) + b * traits.block_bytes, values, type_block);
    quantize_weight_row_int8_ref(values, type_block, block_columns, q + b * type_block,
                                 scales + b * type_block / block_columns);
  }
}

void pack_int8_tile_ref(const uint8_t* q, const float* scales, size_t rows, size_t blocks, size_t block_columns,
                        uint8_t* tile, float* tile_scales) {
  const size_t columns = blocks * block_columns, steps = block_columns / 4;
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t r = 0; r < kInt8TileRows; ++r) {
      tile_scales[b * kInt8TileRows + r] = r < rows ? scales[r * blocks + b] : 0.0f;
      for (size_t j = 0; j < steps; ++j) {
        uint8_t* out = tile + ((b * steps + j) * kInt8TileRows + r) * 4;
        if (r < rows) {
          std::memcpy(out, q + r * columns + b * block_columns + 4 * j, 4);
        } else {
          std::memset(out, 128, 4);
        }
      }
    }
  }
}

void place_int8_tile_row(const uint8_t* q, const float* scales, size_t row, size_t blocks, size_t block_columns,
                         uint8_t* tile, float* tile_scales) {
  for (size_t b = 0; b < blocks; ++b) {
    tile_scales[b * kInt8TileRows + row] = scales[b];
    std::memcpy(tile + (b * kInt8TileRows + row) * block_columns, q + b * block_columns, block_columns);
  }
}

void pad_int8_tile_rows(size_t rows, size_t blocks, size_t block_columns, uint8_t* tile, float* tile_scales) {
  for (size_t r = rows; r < kInt8TileRows; ++r) {
    for (size_t b = 0; b < blocks; ++b) {
      tile_scales[b * kInt8TileRows + r] = 0.0f;
      std::memset(tile + (b * kInt8TileRows + r) * block_columns, 128, block_columns);
    }
  }
}

void pack_int8_tile_rows_ref(const uint8_t* q, const float* scales, size_t rows, size_t blocks, size_t block_columns,
                             uint8_t* tile, float* tile_scales) {
  for (size_t r = 0; r < rows; ++r) {
    place_int8_tile_row(q + r * blocks * block_columns, scales + r * blocks, r, blocks, block_columns, tile,
                        tile_scales);
  }
  pad_int8_tile_rows(rows, blocks, block_columns, tile, tile_scales);
}

void pack_int8_tile(const Int8PromptKernels* kernels, const uint8_t* q, const float* scales, size_t rows, size_t blocks,
                    size_t block_columns, uint8_t* tile, float* tile_scales) {
  (kernels ? kernels->pack_tile : pack_int8_tile_ref)(q, scales, rows, blocks, block_columns, tile, tile_scales);
}

void gemm_int8_tiles_ref(const uint8_t* tiles, const float* tile_scales, size_t rows, const Int8Activations& a,
                         float* y, size_t y_stride) {
  const size_t padded = a.padded_tokens, block_columns = a.block_columns, steps = block_columns / 4;
  for (size_t t = 0; t < a.tokens; ++t) {
    const int8_t* group = a.values.data() + (t / kInt8TokenGroup) * a.blocks * block_columns * kInt8TokenGroup;
    const size_t lane = t % kInt8TokenGroup;
    for (size_t r = 0; r < rows; ++r) {
      const uint8_t* tile = tiles + (r / kInt8TileRows) * int8_tile_bytes(a.blocks, block_columns);
      const float* scales = tile_scales + (r / kInt8TileRows) * int8_tile_scales(a.blocks);
      const size_t row = r % kInt8TileRows;
      float total = 0.0f;
      for (size_t b = 0; b < a.blocks; ++b) {
        const int8_t* block = group + b * block_columns * kInt8TokenGroup;
        int32_t sum = a.offsets[b * padded + t];
        for (size_t j = 0; j < steps; ++j) {
          const uint8_t* w = tile + ((b * steps + j) * kInt8TileRows + row) * 4;
          for (size_t i = 0; i < 4; ++i) sum += int32_t(w[i]) * block[(j * kInt8TokenGroup + lane) * 4 + i];
        }
        total += scales[b * kInt8TileRows + row] * a.scales[b * padded + t] * float(sum);
      }
      y[t * y_stride + r] = total;
    }
  }
}

void q4k_row_nibbles_ref(const void* blocks, size_t n_blocks, uint8_t* q, int16_t* scale_minimums,
                         float* super_scales) {
  const auto* block = static_cast<const BlockQ4K*>(blocks);
  for (size_t b = 0; b < n_blocks; ++b) {
    for (size_t j = 0; j < 8; ++j) {
      uint8_t scale = 0, minimum = 0;
      q4k_scale_min(block[b].scales, j, &scale, &minimum);
      scale_minimums[16 * b + j] = scale;
      scale_minimums[16 * b + 8 + j] = minimum;
      const size_t chunk = j / 2, shift = 4 * (j % 2);
      for (size_t l = 0; l < 32; ++l) q[256 * b + 32 * j + l] = (block[b].qs[32 * chunk + l] >> shift) & 15;
    }
    super_scales[2 * b] = f16_to_f32(block[b].d);
    super_scales[2 * b + 1] = f16_to_f32(block[b].dmin);
  }
}

void int8_sub_block_sums(const Int8Activations& a, std::vector<int16_t>& sums) {
  assert(a.block_columns == 256);
  const size_t padded = a.padded_tokens;
  sums.assign(a.blocks * 4 * padded * 2, 0);
  for (size_t t = 0; t < a.tokens; ++t) {
    const int8_t* group = a.values.data() + (t / kInt8TokenGroup) * a.blocks * 256 * kInt8TokenGroup;
    const size_t lane = t % kInt8TokenGroup;
    for (size_t b = 0; b < a.blocks; ++b) {
      const int8_t* block = group + b * 256 * kInt8TokenGroup;
      for (size_t j = 0; j < 8; ++j) {
        int sum = 0;  // |sum| <= 32 x 127
        for (size_t k = 32 * j; k < 32 * j + 32; ++k) sum += block[((k / 4) * kInt8TokenGroup + lane) * 4 + k % 4];
        sums[((b * 4 + j / 2) * padded + t) * 2 + j % 2] = static_cast<int16_t>(sum);
      }
    }
  }
}

void gemm_q4k_tiles_ref(const uint8_t* tiles, const int16_t* scale_minimums, const float* super_scales, size_t rows,
                        const Int8Activations& a, const int16_t* sub_sums, float* y, size_t y_stride) {
  assert(a.block_columns == 256);
  const size_t padded = a.padded_tokens, blocks = a.blocks;
  for (size_t t = 0; t < a.tokens; ++t) {
    const int8_t* group = a.values.data() + (t / kInt8TokenGroup) * blocks * 256 * kInt8TokenGroup;
    const size_t lane = t % kInt8TokenGroup;
    for (size_t r = 0; r < rows; ++r) {
      const size_t tile = r / kInt8TileRows, row = r % kInt8TileRows;
      const uint8_t* values = tiles + tile * int8_tile_bytes(blocks, 256);
      const int16_t* scales = scale_minimums + tile * q4k_tile_scale_shorts(blocks);
      const float* supers = super_scales + tile * q4k_tile_super_scales(blocks);
      float total = 0.0f;
      for (size_t b = 0; b < blocks; ++b) {
        const int8_t* block = group + b * 256 * kInt8TokenGroup;
        const int16_t* sm = scales + (b * kInt8TileRows + row) * 16;
        int32_t scaled_dot = 0, scaled_minimum = 0;
        for (size_t j = 0; j < 8; ++j) {
          int32_t dot = 0;
          for (size_t k = 32 * j; k < 32 * j + 32; ++k) {
            const uint8_t q = values[((b * 64 + k / 4) * kInt8TileRows + row) * 4 + k % 4];
            dot += int32_t(q) * block[((k / 4) * kInt8TokenGroup + lane) * 4 + k % 4];
          }
          scaled_dot += sm[j] * dot;
          scaled_minimum += sm[8 + j] * sub_sums[((b * 4 + j / 2) * padded + t) * 2 + j % 2];
        }
        const float* ds = supers + (b * kInt8TileRows + row) * 2;
        total += a.scales[b * padded + t] * (ds[0] * float(scaled_dot) - ds[1] * float(scaled_minimum));
      }
      y[t * y_stride + r] = total;
    }
  }
}

std::array<Int8TypeKernels, kTensorTypeCount> int8_type_rows(const RowAsInt8ByType& requantizers,
                                                             const MinTokensByType& min_tokens) {
  std::array<Int8TypeKernels, kTensorTypeCount> rows{};
  for (size_t id = 0; id < kTensorTypeCount; ++id) rows[id] = {requantizers[id], min_tokens[id]};
  return rows;
}

const MinTokensByType& vnni_min_tokens() {
  static const MinTokensByType min_tokens = rows_by_type<uint32_t>({
      {TensorType::q8, 8},
      {TensorType::q4, 12},
      {TensorType::q4k, 12},
      // Interleaved rows have multi-token kernels (several tokens per pass over the weights)
      // that stay ahead of the int8 path far longer: from memory, Mixtral-shaped q4k_x8 / q8_x8
      // matrices decoded 1.6-2.3x faster on the per-token path at 32-128 tokens (Zen 4; no
      // difference at 512, where every expert gets more than 64 rows).
      {TensorType::q4k_x8, 64},
      {TensorType::q8_x8, 64},
      {TensorType::q6k, 14},
      {TensorType::q3k, 14},
  });
  return min_tokens;
}

std::string_view int8_kernels_name(const Int8PromptKernels& kernels) {
  return kernels.amx ? "amx" : isa_name(kernels.isa);
}

const Int8PromptKernels* int8_kernels_for(Isa isa, bool amx) {
  if (amx && isa == Isa::avx512_vnni) {
    if (const Int8PromptKernels* tiles = amx_int8_kernels()) return tiles;
  }
  for (const Int8PromptKernels* kernels : int8_kernel_tables()) {
    if (!kernels->amx && kernels->isa == isa) return kernels;
  }
  return nullptr;
}

std::vector<const Int8PromptKernels*> int8_kernel_tables() {
  std::vector<const Int8PromptKernels*> tables;
  for (const Int8PromptKernels* kernels : {amx_int8_kernels(), avx512_vnni_int8_kernels(), avx2_vnni_int8_kernels(),
                                          avx2_int8_kernels()}) {
    if (kernels != nullptr) tables.push_back(kernels);
  }
  return tables;
}

}  // namespace smoe::quant
