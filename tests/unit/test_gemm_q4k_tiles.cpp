// q4k weights multiplied as stored by the int8 prompt path (quant/gemm_int8.h: the plain AVX2
// table's q4k tiles): the reference product against the decode path's q4k x q8k dot product of
// the same blocks and activations, and each table that has the kernels (avx2) against the
// reference, on raw blocks with the largest nibbles and 6-bit scales and on adversarial values.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q8a.h"
#include "quant/formats/convert_row.h"
#include "quant/gemm_int8.h"
#include "quant/formats/half.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

struct Q4kTiles {
  std::vector<uint8_t> values;
  std::vector<int16_t> scale_minimums;
  std::vector<float> super_scales;
};

// Rows of q4k blocks -> tiles by the references (q4k_row_nibbles_ref, pack_int8_tile_ref),
// padding rows' scales zero.
Q4kTiles pack_q4k_tiles(const std::vector<BlockQ4K>& stored, size_t rows, size_t blocks) {
  const size_t tiles = (rows + kInt8TileRows - 1) / kInt8TileRows, columns = blocks * 256;
  Q4kTiles out{std::vector<uint8_t>(tiles * int8_tile_bytes(blocks, 256)),
               std::vector<int16_t>(tiles * q4k_tile_scale_shorts(blocks), 0),
               std::vector<float>(tiles * q4k_tile_super_scales(blocks), 0.0f)};
  std::vector<uint8_t> nibbles(rows * columns);
  std::vector<int16_t> scales(rows * blocks * 16);
  std::vector<float> supers(rows * blocks * 2), unused(rows * blocks), unused_tile(int8_tile_scales(blocks));
  for (size_t r = 0; r < rows; ++r) {
    q4k_row_nibbles_ref(&stored[r * blocks], blocks, &nibbles[r * columns], &scales[r * blocks * 16],
                        &supers[r * blocks * 2]);
  }
  for (size_t t = 0; t < tiles; ++t) {
    const size_t first = t * kInt8TileRows, count = std::min(kInt8TileRows, rows - first);
    pack_int8_tile_ref(&nibbles[first * columns], unused.data(), count, blocks, 256,
                       &out.values[t * int8_tile_bytes(blocks, 256)], unused_tile.data());
    for (size_t r = 0; r < count; ++r) {
      for (size_t b = 0; b < blocks; ++b) {
        std::memcpy(&out.scale_minimums[t * q4k_tile_scale_shorts(blocks) + (b * kInt8TileRows + r) * 16],
                    &scales[((first + r) * blocks + b) * 16], 16 * sizeof(int16_t));
        std::memcpy(&out.super_scales[t * q4k_tile_super_scales(blocks) + (b * kInt8TileRows + r) * 2],
                    &supers[((first + r) * blocks + b) * 2], 2 * sizeof(float));
      }
    }
  }
  return out;
}

// q4k rows from random values, some rows with raw blocks at the ends of the ranges: every
// nibble 15 with 6-bit scales and minimums of 63 (the int16 sums' worst case), every nibble 0.
std::vector<BlockQ4K> q4k_rows(size_t rows, size_t blocks, uint32_t seed) {
  const std::vector<float> x = smoe::test::normal_values(rows * blocks * 256, 1.0f, seed);
  std::vector<BlockQ4K> stored(rows * blocks);
  for (size_t r = 0; r < rows; ++r)
    quantize_row(TensorType::q4k, &x[r * blocks * 256], &stored[r * blocks], blocks * 256);
  for (size_t r = 0; r < rows; r += 3) {
    BlockQ4K& block = stored[r * blocks + r % blocks];
    std::memset(block.qs, r % 2 ? 0xff : 0x00, sizeof(block.qs));
    std::memset(block.scales, 0xff, sizeof(block.scales));  // every 6-bit scale and minimum 63
  }
  return stored;
}

// Activations with whole blocks at +-max (int8 values of +-127: with nibbles of 15, eight steps'
// pair sums reach 30480 of int16's 32767).
std::vector<float> activations(size_t tokens, size_t columns, uint32_t seed) {
  std::vector<float> x = smoe::test::normal_values(tokens * columns, 1.0f, seed);
  for (size_t t = 0; t < tokens; t += 2) {
    for (size_t k = 0; k < 256 && k < columns; ++k) x[t * columns + k] = t % 4 ? -2.0f : 2.0f;
  }
  return x;
}

}  // namespace

TEST_CASE("the q4k tile product is the decode path's q4k x q8k product", "[quant][int8]") {
  const size_t rows = 14, tokens = 19, blocks = 3, columns = blocks * 256;
  const std::vector<BlockQ4K> stored = q4k_rows(rows, blocks, 31);
  const std::vector<float> x = activations(tokens, columns, 32);
  const Q4kTiles tiles = pack_q4k_tiles(stored, rows, blocks);
  Int8Activations a;
  quantize_activations_int8(nullptr, x.data(), tokens, columns, 256, a);
  std::vector<int16_t> sums;
  int8_sub_block_sums(a, sums);
  std::vector<float> y(tokens * rows);
  gemm_q4k_tiles_ref(tiles.values.data(), tiles.scale_minimums.data(), tiles.super_scales.data(), rows, a, sums.data(),
                     y.data(), rows);
  std::vector<BlockQ8K> q8k(blocks);
  std::vector<float> expected(tokens * rows);
  float magnitude = 0.0f;
  for (size_t t = 0; t < tokens; ++t) {
    quantize_row_q8k_ref(&x[t * columns], q8k.data(), columns);
    for (size_t r = 0; r < rows; ++r) {
      expected[t * rows + r] = dot_q4k_q8k_ref(&stored[r * blocks], q8k.data(), columns);
      magnitude = std::max(magnitude, std::fabs(expected[t * rows + r]));
    }
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("token " << i / rows << " row " << i % rows);
    // The same integer sums and float operations per block, in the same order (bit for bit
    // with x86 GCC; a compiler that fuses d x dot - dmin x minimum differently rounds apart).
    CHECK(std::fabs(y[i] - expected[i]) <= 1e-6f * magnitude);
  }
}

TEST_CASE("the q4k row unpackers give the reference's nibbles and scales", "[quant][int8][kernels]") {
  const size_t blocks = 7;
  const std::vector<BlockQ4K> stored = q4k_rows(3, blocks, 41);
  std::vector<uint8_t> expected(3 * blocks * 256);
  std::vector<int16_t> expected_scales(3 * blocks * 16);
  std::vector<float> expected_supers(3 * blocks * 2);
  q4k_row_nibbles_ref(stored.data(), 3 * blocks, expected.data(), expected_scales.data(), expected_supers.data());
  int tables = 0;
  for (const Int8PromptKernels* kernels : int8_kernel_tables()) {
    if (kernels->q4k_row_nibbles == nullptr) continue;
    ++tables;
    INFO("kernels " << kernels->isa);
    std::vector<uint8_t> q(expected.size());
    std::vector<int16_t> scales(expected_scales.size());
    std::vector<float> supers(expected_supers.size());
    kernels->q4k_row_nibbles(stored.data(), 3 * blocks, q.data(), scales.data(), supers.data());
    CHECK(q == expected);
    CHECK(scales == expected_scales);
    CHECK(std::memcmp(supers.data(), expected_supers.data(), supers.size() * sizeof(float)) == 0);
  }
  if (tables == 0) WARN("no int8 table here multiplies q4k as stored: the unpacker is not tested");
}

TEST_CASE("the q4k tile kernels compute the reference's products", "[quant][int8][kernels]") {
  const size_t rows = GENERATE(size_t{1}, size_t{2}, size_t{13}, size_t{24}, size_t{37});  // odd: a half pair
  const size_t tokens = GENERATE(size_t{1}, size_t{16}, size_t{17}, size_t{40});
  const size_t blocks = 4, columns = blocks * 256;
  INFO("rows " << rows << " tokens " << tokens);
  const std::vector<BlockQ4K> stored = q4k_rows(rows, blocks, 51);
  const std::vector<float> x = activations(tokens, columns, 52);
  const Q4kTiles tiles = pack_q4k_tiles(stored, rows, blocks);
  Int8Activations a;
  quantize_activations_int8(nullptr, x.data(), tokens, columns, 256, a);
  std::vector<int16_t> sums;
  int8_sub_block_sums(a, sums);
  const size_t stride = rows + 2;  // only the product's columns are written
  std::vector<float> expected(tokens * stride, -1.0f);
  gemm_q4k_tiles_ref(tiles.values.data(), tiles.scale_minimums.data(), tiles.super_scales.data(), rows, a, sums.data(),
                     expected.data(), stride);
  int tables = 0;
  for (const Int8PromptKernels* kernels : int8_kernel_tables()) {
    if (kernels->q4k_tiles == nullptr) continue;
    ++tables;
    INFO("kernels " << kernels->isa);
    std::vector<float> actual(tokens * stride, -1.0f);
    kernels->q4k_tiles(tiles.values.data(), tiles.scale_minimums.data(), tiles.super_scales.data(), rows, a,
                       sums.data(), actual.data(), stride);
    // Fused multiply-adds round d x dot - dmin x minimum's terms, which may nearly cancel:
    // relative to the product's largest value.
    float magnitude = 0.0f;
    for (size_t t = 0; t < tokens; ++t) {
      for (size_t r = 0; r < rows; ++r) magnitude = std::max(magnitude, std::fabs(expected[t * stride + r]));
    }
    for (size_t r = 0; r < stride; ++r) {
      for (size_t t = 0; t < tokens; ++t) {
        INFO("token " << t << " row " << r);
        if (r >= rows) {
          CHECK(actual[t * stride + r] == -1.0f);
        } else {
          CHECK(std::fabs(actual[t * stride + r] - expected[t * stride + r]) <= 1e-5f * magnitude);
        }
      }
    }
  }
  if (tables == 0) WARN("no int8 table here multiplies q4k as stored: the kernel is not tested");
}
