// The int8 prompt products (quant/gemm_int8.h): each kernel table the CPU runs (amx,
// avx512-vnni, avx2-vnni, avx2) against the scalar references (the same bytes for quantizing and packing, the same
// products up to f32 rounding), and the references against what they stand for (values within
// half a step, exact integer sums). The kernels' cases are skipped, with a warning, on CPUs
// without AVX2.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/convert_row.h"
#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/formats/half.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

#define SMOE_INT8_TABLE_OR_SKIP(kernels)                                         \
  if (int8_kernel_tables().empty()) {                                            \
    WARN("no AVX2 here: the int8 prompt kernels are not tested");                \
    return;                                                                      \
  }                                                                              \
  const Int8PromptKernels* kernels = GENERATE(from_range(int8_kernel_tables())); \
  INFO("kernels " << kernels->isa)

// Random rows with adversarial blocks: all zeros, one huge outlier, equal values, tiny values,
// values too small for a finite multiplier (denormals among them), a NaN, an infinity.
std::vector<float> adversarial_rows(size_t rows, size_t columns, uint32_t seed) {
  std::vector<float> x = smoe::test::normal_values(rows * columns, 1.0f, seed);
  for (size_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * columns;
    switch (r % 8) {
      case 0:
        std::fill(row, row + std::min<size_t>(columns, 40), 0.0f);
        break;
      case 1:
        row[columns / 2] = 3e4f;
        break;
      case 2:
        std::fill(row, row + columns, -0.75f);
        break;
      case 3:
        for (size_t i = 0; i < columns; ++i) row[i] *= 1e-30f;
        break;
      case 4:
        for (size_t i = 0; i < columns; ++i) row[i] *= i % 2 ? 1e-38f : 1e-42f;
        break;
      case 5:
        row[columns / 3] = std::numeric_limits<float>::quiet_NaN();
        break;
      case 6:
        row[columns - 1] = -std::numeric_limits<float>::infinity();
        break;
      default:
        break;
    }
  }
  return x;
}

// Float vectors equal bit for bit (NaN scales included).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct QuantizedRows {
  std::vector<uint8_t> q;
  std::vector<float> scales;
};

QuantizedRows quantize_rows(const std::vector<float>& x, size_t rows, size_t columns, size_t block_columns) {
  const size_t blocks = int8_blocks(columns, block_columns);
  QuantizedRows out{std::vector<uint8_t>(rows * blocks * block_columns), std::vector<float>(rows * blocks)};
  for (size_t r = 0; r < rows; ++r) {
    quantize_weight_row_int8_ref(&x[r * columns], columns, block_columns, &out.q[r * blocks * block_columns],
                                 &out.scales[r * blocks]);
  }
  return out;
}

// Tiles of `rows` quantized rows, by a reference packer: gemm_int8_tiles_ref's layout, or a
// kernel table's own (Int8PromptKernels::pack_tile_ref: AMX's rows).
QuantizedRows pack_tiles(const QuantizedRows& rows_q, size_t rows, size_t blocks, size_t block_columns,
                         PackInt8TileFn pack = pack_int8_tile_ref) {
  const size_t tiles = (rows + kInt8TileRows - 1) / kInt8TileRows;
  QuantizedRows out{std::vector<uint8_t>(tiles * int8_tile_bytes(blocks, block_columns)),
                    std::vector<float>(tiles * int8_tile_scales(blocks))};
  for (size_t t = 0; t < tiles; ++t) {
    const size_t first = t * kInt8TileRows, count = std::min(kInt8TileRows, rows - first);
    pack(&rows_q.q[first * blocks * block_columns], &rows_q.scales[first * blocks], count, blocks, block_columns,
         &out.q[t * int8_tile_bytes(blocks, block_columns)], &out.scales[t * int8_tile_scales(blocks)]);
  }
  return out;
}

}  // namespace

TEST_CASE("int8 weight rows are within half a step of their values", "[quant][int8]") {
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t columns = GENERATE(size_t{32}, size_t{256}, size_t{300}, size_t{17});
  INFO("block " << block_columns << " columns " << columns);
  const size_t rows = 5, blocks = int8_blocks(columns, block_columns);
  const std::vector<float> x = adversarial_rows(rows, columns, 3);
  const QuantizedRows q = quantize_rows(x, rows, columns, block_columns);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < blocks * block_columns; ++i) {
      const float scale = q.scales[r * blocks + i / block_columns];
      const int value = int(q.q[r * blocks * block_columns + i]) - 128;
      INFO("row " << r << " column " << i);
      REQUIRE(std::abs(value) <= 127);
      const float expected = i < columns ? x[r * columns + i] : 0.0f;
      if (i >= columns || std::isnan(scale)) CHECK(value == 0);  // NaN scale: a block with a NaN or an infinity
      // Blocks too small for a finite multiplier are zeros (scale 0), within 4e-37 of their values.
      if (!std::isnan(scale)) CHECK(std::fabs(scale * float(value) - expected) <= 0.5001f * scale + 4e-37f);
    }
  }
}

TEST_CASE("the int8 weight quantizers and packers give the reference's bytes", "[quant][int8][kernels]") {
  SMOE_INT8_TABLE_OR_SKIP(kernels);
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t columns = GENERATE(size_t{32}, size_t{256}, size_t{4096}, size_t{300}, size_t{17});
  const size_t rows = GENERATE(size_t{1}, size_t{5}, size_t{12});
  INFO("block " << block_columns << " columns " << columns << " rows " << rows);
  const size_t blocks = int8_blocks(columns, block_columns);
  const std::vector<float> x = adversarial_rows(rows, columns, 7);
  const QuantizedRows expected = quantize_rows(x, rows, columns, block_columns);
  QuantizedRows actual{std::vector<uint8_t>(expected.q.size()), std::vector<float>(expected.scales.size())};
  for (size_t r = 0; r < rows; ++r) {
    kernels->quantize_weight_row(&x[r * columns], columns, block_columns, &actual.q[r * blocks * block_columns],
                                 &actual.scales[r * blocks]);
  }
  CHECK(actual.q == expected.q);
  CHECK(same_bits(actual.scales, expected.scales));

  std::vector<uint8_t> tile(int8_tile_bytes(blocks, block_columns)), expected_tile(tile.size());
  std::vector<float> tile_scales(int8_tile_scales(blocks)), expected_scales(tile_scales.size());
  kernels->pack_tile_ref(expected.q.data(), expected.scales.data(), rows, blocks, block_columns,
                         expected_tile.data(), expected_scales.data());
  kernels->pack_tile(expected.q.data(), expected.scales.data(), rows, blocks, block_columns, tile.data(),
                     tile_scales.data());
  CHECK(tile == expected_tile);
  CHECK(same_bits(tile_scales, expected_scales));
}

TEST_CASE("q8 rows taken as stored are their requantized values", "[quant][int8]") {
  // Every block gives its stored bytes + 128 and its f16 scale; those with a largest |q| of 127
  // and a normal scale (q8's quantizer's blocks but the smallest) exactly what requantizing the
  // decoded values gives.
  const size_t columns = 8192, blocks = columns / 32;
  std::vector<float> x = smoe::test::normal_values(columns, 1.0f, 17);
  x[40] = 3e4f;                                       // an outlier block
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);    // a zero block
  std::fill(x.begin() + 96, x.begin() + 128, -0.5f);  // a constant one
  // Blocks 64 and on small enough for an f16-subnormal scale (max |x| below 127 x 2^-14).
  for (size_t i = 64 * 32; i < columns; ++i) x[i] *= 1e-4f * float(1 + i % 7);
  std::vector<BlockQ8> stored(blocks);
  quantize_row_q8_ref(x.data(), stored.data(), columns);
  for (int8_t& q : stored[5].qs) q = static_cast<int8_t>(q / 2);  // a largest |q| below 127
  stored[6].d = static_cast<uint16_t>(stored[6].d | 0x8000u);     // a negative scale (imports)
  std::vector<float> decoded(columns), expected_scales(blocks), scales(blocks);
  dequantize_row_q8_ref(stored.data(), decoded.data(), columns);
  std::vector<uint8_t> expected(columns), actual(columns);
  quantize_weight_row_int8_ref(decoded.data(), columns, 32, expected.data(), expected_scales.data());
  q8_row_as_int8(stored.data(), columns, actual.data(), scales.data());
  size_t requantized_alike = 0, kept = 0;
  for (size_t b = 0; b < blocks; ++b) {
    INFO("block " << b);
    CHECK(scales[b] == f16_to_f32(stored[b].d));
    int largest = 0;
    for (size_t i = 0; i < 32; ++i) {
      CHECK(int(actual[32 * b + i]) - 128 == stored[b].qs[i]);
      largest = std::max(largest, std::abs(int(stored[b].qs[i])));
    }
    const bool normal = (stored[b].d & 0x7c00u) != 0 && (stored[b].d & 0x8000u) == 0;
    if (largest == 127 && normal) {
      ++requantized_alike;
      CHECK(std::memcmp(&actual[32 * b], &expected[32 * b], 32) == 0);
      CHECK(std::memcmp(&scales[b], &expected_scales[b], 4) == 0);
    } else if (largest > 0) {
      ++kept;
    }
  }
  CHECK(requantized_alike > 32);  // both kinds are there
  CHECK(kept > 8);
}

// The requantizers of `type` in the int8 tables the CPU runs, with the tables' names.
std::vector<std::pair<std::string, RowAsInt8Fn>> row_requantizers(TensorType type) {
  std::vector<std::pair<std::string, RowAsInt8Fn>> found;
  for (const Int8PromptKernels* table : int8_kernel_tables()) {
    if (RowAsInt8Fn f = table->for_type(type).row_as_int8) found.emplace_back(int8_kernels_name(*table), f);
  }
  return found;
}

// Rows of `type` from adversarial values, then blocks its quantizer does not write (NaN and
// infinite super-scales, zeros, one value everywhere, an f16-subnormal scale, the extreme sub-block
// scales), through each requantizer against the reference.
template <class Block, class Mend>
void check_row_requantizers(TensorType type, Mend mend_blocks) {
  const auto requantizers = row_requantizers(type);
  if (requantizers.empty()) {
    WARN("no AVX-512 or AVX2 here: " << type_name(type) << " rows are decoded and requantized, not tested without");
    return;
  }
  constexpr size_t kBlock = Block::kElements;
  const size_t rows = 16, columns = 1024, blocks = columns / kBlock;
  const size_t int8_blocks_per_block = kBlock / int8_block_columns(type);
  const std::vector<float> x = adversarial_rows(rows, columns, 19);
  std::vector<Block> stored(rows * blocks);
  for (size_t r = 0; r < rows; ++r) quantize_row(type, &x[r * columns], &stored[r * blocks], columns);
  mend_blocks(stored);
  std::vector<uint8_t> expected(rows * columns);
  std::vector<float> expected_scales(rows * blocks * int8_blocks_per_block);
  row_as_int8_ref(type, stored.data(), rows * columns, expected.data(), expected_scales.data());
  for (const auto& [name, requantize] : requantizers) {
    INFO(type_name(type) << ", " << name);
    std::vector<uint8_t> actual(expected.size());
    std::vector<float> scales(expected_scales.size());
    requantize(stored.data(), rows * columns, actual.data(), scales.data());
    for (size_t b = 0; b < rows * blocks; ++b) {
      INFO("block " << b);
      CHECK(std::memcmp(&actual[kBlock * b], &expected[kBlock * b], kBlock) == 0);
      CHECK(std::memcmp(&scales[b * int8_blocks_per_block], &expected_scales[b * int8_blocks_per_block],
                        int8_blocks_per_block * sizeof(float)) == 0);
    }
    // A length that is not a multiple of 8 blocks (q4 works in groups of eight): the same prefix.
    const size_t short_blocks = rows * blocks - 3;
    std::vector<uint8_t> prefix(short_blocks * kBlock);
    std::vector<float> prefix_scales(short_blocks * int8_blocks_per_block);
    requantize(stored.data(), short_blocks * kBlock, prefix.data(), prefix_scales.data());
    CHECK(std::memcmp(prefix.data(), expected.data(), prefix.size()) == 0);
    CHECK(std::memcmp(prefix_scales.data(), expected_scales.data(), prefix_scales.size() * sizeof(float)) == 0);
  }
  CHECK(std::isnan(expected_scales[1 * int8_blocks_per_block]));  // the blocks are what they are meant to be
  CHECK(expected_scales[3 * int8_blocks_per_block] == 0.0f);
}

TEST_CASE("q4, q4k, q6k and q3k rows requantized without decoding are their decoded values requantized",
          "[quant][int8]") {
  SECTION("q4") {
    check_row_requantizers<BlockQ4>(TensorType::q4, [](std::vector<BlockQ4>& stored) {
      stored[1].d = 0x7c00;  // infinite
      stored[2].m = 0x7e00;  // NaN
      stored[3].d = stored[3].m = 0;
      std::memset(stored[4].qs, 0x77, sizeof(stored[4].qs));  // smallest nibble = largest
      stored[5].d = 0x0001;                                   // f16-subnormal
      stored[5].m = 0x0003;
      stored[6].d = static_cast<uint16_t>(stored[6].d | 0x8000u);  // a negative scale (imports)
      stored[7].m = 0x7bff;                                        // the largest f16 minimum
      std::memset(stored[8].qs, 0xf0, sizeof(stored[8].qs));       // nibbles 0 and 15 only
    });
  }
  SECTION("q4k") {
    check_row_requantizers<BlockQ4K>(TensorType::q4k, [](std::vector<BlockQ4K>& stored) {
      stored[1].d = 0x7c00;     // infinite
      stored[2].dmin = 0x7e00;  // NaN
      stored[3].d = stored[3].dmin = 0;
      std::memset(stored[4].qs, 0x77, sizeof(stored[4].qs));  // smallest nibble = largest
      stored[5].d = 0x0001;                                   // f16-subnormal
    });
  }
  SECTION("q6k") {
    check_row_requantizers<BlockQ6K>(TensorType::q6k, [](std::vector<BlockQ6K>& stored) {
      stored[1].d = 0x7e00;
      stored[2].d = 0xfc00;  // -infinity
      stored[3].d = 0;
      std::memset(stored[4].ql, 0x00, sizeof(stored[4].ql));  // every value -32, the most negative
      std::memset(stored[4].qh, 0x00, sizeof(stored[4].qh));
      stored[5].d = 0x0001;
      for (size_t s = 0; s < 16; ++s) stored[6].scales[s] = static_cast<int8_t>(s % 2 ? -128 : 127);
      stored[7].scales[3] = 0;  // one sub-block of zeros, next to a live one in its int8 block
      stored[8].d = static_cast<uint16_t>(stored[8].d | 0x8000u);  // a negative super-scale
    });
  }
  SECTION("q3k") {
    check_row_requantizers<BlockQ3K>(TensorType::q3k, [](std::vector<BlockQ3K>& stored) {
      stored[1].d = 0x7c00;
      stored[2].d = 0x7e00;
      stored[3].d = 0;
      std::memset(stored[4].qs, 0x00, sizeof(stored[4].qs));  // every value -4
      std::memset(stored[4].hmask, 0x00, sizeof(stored[4].hmask));
      stored[5].d = 0x0001;
      std::memset(stored[6].scales, 0x00, sizeof(stored[6].scales));  // every sub-block scale -32
      stored[7].d = static_cast<uint16_t>(stored[7].d | 0x8000u);
    });
  }
}

TEST_CASE("int8 activations are packed with their scales and sums", "[quant][int8]") {
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t tokens = GENERATE(size_t{1}, size_t{17}), columns = 300;
  const std::vector<float> x = adversarial_rows(tokens, columns, 11);
  Int8Activations a;
  quantize_activations_int8(nullptr, x.data(), tokens, columns, block_columns, a);
  REQUIRE(a.padded_tokens % kInt8TokenGroup == 0);
  REQUIRE(a.blocks == int8_blocks(columns, block_columns));
  for (size_t t = 0; t < a.padded_tokens; ++t) {
    for (size_t b = 0; b < a.blocks; ++b) {
      const int8_t* block = a.values.data() + ((t / kInt8TokenGroup) * a.blocks + b) * block_columns * kInt8TokenGroup;
      int32_t sum = 0;
      for (size_t k = 0; k < block_columns; ++k) {
        const int value = block[((k / 4) * kInt8TokenGroup + t % kInt8TokenGroup) * 4 + k % 4];
        const size_t column = b * block_columns + k;
        const float expected = t < tokens && column < columns ? x[t * columns + column] : 0.0f;
        const float scale = a.scales[b * a.padded_tokens + t];
        INFO("token " << t << " column " << column);
        if (std::isnan(scale)) CHECK(value == 0);
        if (!std::isnan(scale)) CHECK(std::fabs(scale * float(value) - expected) <= 0.5001f * scale + 4e-37f);
        sum += value;
      }
      CHECK(a.offsets[b * a.padded_tokens + t] == -128 * sum);
    }
  }
}

TEST_CASE("the int8 tile product is the sum of its integer block products", "[quant][int8]") {
  // The reference against a direct sum over the unpacked values: the layout and the +128 offset.
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t rows = 13, tokens = 18, columns = 2 * block_columns + 16;
  const size_t blocks = int8_blocks(columns, block_columns);
  const std::vector<float> w = adversarial_rows(rows, columns, 5),
                           x = smoe::test::normal_values(tokens * columns, 2.0f, 6);
  const QuantizedRows q = quantize_rows(w, rows, columns, block_columns);
  const QuantizedRows tiles = pack_tiles(q, rows, blocks, block_columns);
  Int8Activations a;
  quantize_activations_int8(nullptr, x.data(), tokens, columns, block_columns, a);
  std::vector<float> y(tokens * rows);
  gemm_int8_tiles_ref(tiles.q.data(), tiles.scales.data(), rows, a, y.data(), rows);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t r = 0; r < rows; ++r) {
      double expected = 0, magnitude = 0;
      for (size_t b = 0; b < blocks; ++b) {
        int64_t sum = 0;
        for (size_t k = 0; k < block_columns; ++k) {
          const int weight = int(q.q[r * blocks * block_columns + b * block_columns + k]) - 128;
          const int8_t* block =
              a.values.data() + ((t / kInt8TokenGroup) * blocks + b) * block_columns * kInt8TokenGroup;
          sum += weight * block[((k / 4) * kInt8TokenGroup + t % kInt8TokenGroup) * 4 + k % 4];
        }
        const double term = double(q.scales[r * blocks + b]) * a.scales[b * a.padded_tokens + t] * double(sum);
        expected += term;
        magnitude += std::fabs(term);
      }
      INFO("row " << r << " token " << t);
      if (std::isnan(expected)) {
        CHECK(std::isnan(y[t * rows + r]));
      } else {
        CHECK(std::fabs(y[t * rows + r] - expected) <= 1e-6 * magnitude);
      }
    }
  }
}

// A kernel table's tile product of `rows` rows against `tokens` tokens against the reference's.
void check_tile_kernel(const Int8PromptKernels* kernels, size_t block_columns, size_t rows, size_t tokens,
                       size_t columns) {
  INFO("block " << block_columns << " rows " << rows << " tokens " << tokens << " columns " << columns);
  const size_t blocks = int8_blocks(columns, block_columns);
  const std::vector<float> w = adversarial_rows(rows, columns, 9),
                           x = smoe::test::normal_values(tokens * columns, 1.0f, 10);
  const QuantizedRows q = quantize_rows(w, rows, columns, block_columns);
  const QuantizedRows tiles = pack_tiles(q, rows, blocks, block_columns),
                      own_tiles = pack_tiles(q, rows, blocks, block_columns, kernels->pack_tile_ref);
  Int8Activations a;
  quantize_activations_int8(kernels, x.data(), tokens, columns, block_columns, a);
  const size_t stride = rows + 3;  // a wider output row: only the product's columns are written
  std::vector<float> expected(tokens * stride, -1.0f), actual(tokens * stride, -1.0f);
  gemm_int8_tiles_ref(tiles.q.data(), tiles.scales.data(), rows, a, expected.data(), stride);
  kernels->tiles(own_tiles.q.data(), own_tiles.scales.data(), rows, a, actual.data(), stride);
  for (size_t r = 0; r < stride; ++r) {
    float row_magnitude = 0.0f;  // f32 rounding of block sums in another order: relative to the row's size
    for (size_t t = 0; t < tokens; ++t) row_magnitude = std::max(row_magnitude, std::fabs(expected[t * stride + r]));
    for (size_t t = 0; t < tokens; ++t) {
      INFO("token " << t << " row " << r);
      if (r >= rows) {
        CHECK(actual[t * stride + r] == -1.0f);  // untouched
      } else if (std::isnan(expected[t * stride + r])) {
        CHECK(std::isnan(actual[t * stride + r]));
      } else {
        CHECK(std::fabs(actual[t * stride + r] - expected[t * stride + r]) <= 1e-5f * row_magnitude);
      }
    }
  }
}

TEST_CASE("the tile kernels compute the reference's products", "[quant][int8][kernels]") {
  SMOE_INT8_TABLE_OR_SKIP(kernels);
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t rows = GENERATE(size_t{1}, size_t{6}, size_t{7}, size_t{12}, size_t{13}, size_t{30});  // 6: half tiles
  const size_t tokens = GENERATE(size_t{1}, size_t{16}, size_t{17}, size_t{40});  // one group, two, a short last
  check_tile_kernel(kernels, block_columns, rows, tokens, block_columns == 32 ? 96 : 512);
}

TEST_CASE("the tile kernels keep their sums over long rows and many tokens", "[quant][int8][kernels]") {
  // The AMX kernel takes the columns in spans whose activations fit in L2 (768 KiB): 530 tokens
  // of 4096 columns make three spans of blocks of 32, two of 256.
  SMOE_INT8_TABLE_OR_SKIP(kernels);
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  check_tile_kernel(kernels, block_columns, 25, 530, 4096);
}

TEST_CASE("the tile kernels are exact at the ends of the byte ranges", "[quant][int8][kernels]") {
  // Weight bytes 0 (w = -128: q8 blocks taken as stored may hold it) to 255 against activations
  // of +-127: the plain AVX2 kernel's vpmaddubsw pairs reach 2 x 128 x 127, one step short of
  // saturating; a wrong sign of -128 or a saturated pair is off by thousands.
  SMOE_INT8_TABLE_OR_SKIP(kernels);
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t rows = 13, tokens = 17, columns = 2 * block_columns, blocks = 2;
  INFO("block " << block_columns);
  const uint8_t ends[] = {0, 0, 1, 2, 127, 128, 129, 254, 255, 255};
  std::mt19937 random(21);
  QuantizedRows q{std::vector<uint8_t>(rows * columns), std::vector<float>(rows * blocks, 1.0f)};
  for (size_t i = 0; i < q.q.size(); ++i) {
    // Runs of equal bytes in some rows: every pair of a vpmaddubsw at its largest.
    q.q[i] = (i / columns) % 3 == 0 ? ends[(i / 64) % 10] : ends[random() % 10];
  }
  std::vector<float> x(tokens * columns);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = (i / columns) % 2 == 0 ? ((i / 64) % 2 ? 1.0f : -1.0f) : (random() % 2 ? 1.0f : -1.0f);
  const QuantizedRows tiles = pack_tiles(q, rows, blocks, block_columns, kernels->pack_tile_ref);
  Int8Activations a;
  quantize_activations_int8(kernels, x.data(), tokens, columns, block_columns, a);
  std::vector<float> actual(tokens * rows);
  kernels->tiles(tiles.q.data(), tiles.scales.data(), rows, a, actual.data(), rows);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t r = 0; r < rows; ++r) {
      double expected = 0;
      for (size_t k = 0; k < columns; ++k) expected += (int(q.q[r * columns + k]) - 128) * 127.0 * x[t * columns + k];
      expected *= double(a.scales[t]);  // every block's scale: 1 / 127 in f32
      INFO("token " << t << " row " << r);
      CHECK(std::fabs(actual[t * rows + r] - expected) <= 1e-5 * 128.0 * double(columns));
    }
  }
}

TEST_CASE("the int8 activation quantizers give the reference's bytes", "[quant][int8][kernels]") {
  SMOE_INT8_TABLE_OR_SKIP(kernels);
  const size_t block_columns = GENERATE(size_t{32}, size_t{256});
  const size_t columns = GENERATE(size_t{32}, size_t{512}, size_t{300}, size_t{17});
  const size_t tokens = 19;
  INFO("block " << block_columns << " columns " << columns);
  const std::vector<float> x = adversarial_rows(tokens, columns, 13);
  Int8Activations expected, actual;
  resize_int8_activations(tokens, columns, block_columns, expected);
  resize_int8_activations(tokens, columns, block_columns, actual);
  for (size_t t = 0; t < tokens; ++t) {
    quantize_activation_int8_ref(&x[t * columns], t, expected);
    kernels->quantize_activation(&x[t * columns], t, actual);
  }
  CHECK(actual.values == expected.values);
  CHECK(same_bits(actual.scales, expected.scales));
  CHECK(actual.offsets == expected.offsets);
}
