// q4k_x8 (eight interleaved q4k rows): the layout converts to and from q4k bit for bit, its
// scalar reference equals q4k's on every row, and every kernel table agrees with it on
// quantized rows and on raw blocks at their extremes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/half.h"
#include "quant/kernels.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

constexpr double kOrderTolerance = 1e-5;  // relative to sum |w x|, as in test_kernels.cpp

enum class Weights { quantized, raw_random, raw_largest };

// Eight rows of n weights as q4k: quantized normal values (row r with spread scale * (r + 1)),
// raw random bytes (every scale, minimum and nibble pattern), or every byte 0xff (nibbles 15,
// scales and minimums 63: where int16 sums could saturate), raw ones with finite super-scales.
std::vector<BlockQ4K> q4k_rows(size_t n, float scale, Weights weights, uint32_t seed) {
  std::vector<BlockQ4K> rows(8 * n / 256);
  if (weights != Weights::quantized) {
    std::mt19937 generator(seed);
    auto* bytes = reinterpret_cast<uint8_t*>(rows.data());
    for (size_t i = 0; i < rows.size() * sizeof(BlockQ4K); ++i) {
      bytes[i] = weights == Weights::raw_largest ? uint8_t{0xff} : static_cast<uint8_t>(generator());
    }
    for (BlockQ4K& block : rows) {
      block.d = f32_to_f16(0.002f);
      block.dmin = f32_to_f16(0.001f);
    }
    return rows;
  }
  for (size_t r = 0; r < 8; ++r) {
    const std::vector<float> w = smoe::test::normal_values(n, scale * float(r + 1), seed + uint32_t(r));
    quantize_row_q4k_ref(w.data(), rows.data() + r * n / 256, n);
  }
  return rows;
}

std::vector<BlockQ4Kx8> interleaved(const std::vector<BlockQ4K>& rows, size_t n) {
  const BlockQ4K* pointers[8];
  for (size_t r = 0; r < 8; ++r) pointers[r] = rows.data() + r * n / 256;
  std::vector<BlockQ4Kx8> blocks(n / 256);
  interleave_q4k_x8(pointers, blocks.data(), n);
  return blocks;
}

// The eight rows of `blocks` taken apart by `deinterleave` (the reference or a table's), laid out
// as q4k_rows lays them.
template <class Deinterleave>
std::vector<BlockQ4K> deinterleaved(const std::vector<BlockQ4Kx8>& blocks, size_t n, Deinterleave deinterleave) {
  std::vector<BlockQ4K> rows(8 * n / 256);
  BlockQ4K* pointers[8];
  for (size_t r = 0; r < 8; ++r) pointers[r] = rows.data() + r * n / 256;
  deinterleave(blocks.data(), pointers, n);
  return rows;
}

// The table's row de-interleaver, with the typed signature of the reference.
auto table_deinterleave(const Kernels& kernels) {
  return [&kernels](const BlockQ4Kx8* blocks, BlockQ4K* const rows[8], size_t n) {
    void* untyped_rows[8];
    for (size_t r = 0; r < 8; ++r) untyped_rows[r] = rows[r];
    kernels.for_type(TensorType::q4k_x8).deinterleave(blocks, untyped_rows, n);
  };
}

}  // namespace

TEST_CASE("q4k_x8 interleaving is lossless", "[kernels][q4k_x8]") {
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_random);
  const size_t n = 256 * 3;
  const std::vector<BlockQ4K> rows = q4k_rows(n, 0.02f, weights, 5);
  const std::vector<BlockQ4Kx8> blocks = interleaved(rows, n);
  const std::vector<BlockQ4K> back = deinterleaved(blocks, n, deinterleave_q4k_x8_rows);
  REQUIRE(std::memcmp(back.data(), rows.data(), sizeof(BlockQ4K) * back.size()) == 0);
  // The unpacked scales are q4k's, in the documented order.
  uint8_t scales[64], minimums[64];
  q4k_x8_unpack_scales(blocks[1], scales, minimums);
  for (size_t r = 0; r < 8; ++r) {
    for (size_t j = 0; j < 8; ++j) {
      uint8_t scale = 0, minimum = 0;
      q4k_scale_min(rows[r * n / 256 + 1].scales, j, &scale, &minimum);
      REQUIRE(scales[8 * j + r] == scale);
      REQUIRE(minimums[q4k_x8_minimum_index(j, r)] == minimum);
    }
  }
}

TEST_CASE("every table de-interleaves q4k_x8 rows as the reference does", "[kernels][q4k_x8]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_random, Weights::raw_largest);
  INFO("kernels " << kernels_name(*kernels) << " weights " << int(weights));
  const size_t n = 256 * 5;
  const std::vector<BlockQ4K> rows = q4k_rows(n, 0.02f, weights, 9);
  const std::vector<BlockQ4Kx8> blocks = interleaved(rows, n);
  const std::vector<BlockQ4K> back = deinterleaved(blocks, n, table_deinterleave(*kernels));
  CHECK(std::memcmp(back.data(), rows.data(), sizeof(BlockQ4K) * back.size()) == 0);
}

TEST_CASE("q4k_x8 kernels agree with q4k's scalar reference", "[kernels][q4k_x8]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const size_t n = GENERATE(size_t{256}, size_t{256 * 7}, size_t{14336});
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_random, Weights::raw_largest);
  const int activations = GENERATE(0, 1, 2, 3);  // normal with an outlier, all +127, all -127, alternating
  INFO("kernels " << kernels_name(*kernels) << " n " << n << " weights " << int(weights) << " activations "
                  << activations);
  REQUIRE(kernels->for_type(TensorType::q4k_x8).group_dot != nullptr);
  const std::vector<BlockQ4K> rows = q4k_rows(n, 0.02f, weights, 7);
  const std::vector<BlockQ4Kx8> blocks = interleaved(rows, n);

  const std::vector<float> x = smoe::test::adversarial_activations(n, activations, 8);
  std::vector<BlockQ8K> a(n / 256);
  quantize_row_q8k_ref(x.data(), a.data(), n);

  float reference[8], candidate[8];
  dot_q4k_x8_q8k_ref(blocks.data(), a.data(), n, reference);
  kernels->for_type(TensorType::q4k_x8).group_dot(blocks.data(), a.data(), n, candidate);
  std::vector<float> dequantized(n);
  for (size_t r = 0; r < 8; ++r) {
    const BlockQ4K* row = rows.data() + r * n / 256;
    // The reference sums in dot_q4k_q8k_ref's order: the same float, bit for bit.
    REQUIRE(reference[r] == dot_q4k_q8k_ref(row, a.data(), n));
    dequantize_row_q4k_ref(row, dequantized.data(), n);
    double magnitude = 0;
    for (size_t i = 0; i < n; ++i)
      magnitude += std::fabs(double(dequantized[i]) * a[i / 256].d * a[i / 256].qs[i % 256]);
    INFO("row " << r);
    CHECK(candidate[r] == Approx(reference[r]).margin(kOrderTolerance * (magnitude + 1e-30)));
  }
}

TEST_CASE("the q4k_x8 kernels of several tokens give each token's one-token sums, bit for bit", "[kernels][q4k_x8]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const size_t tokens = GENERATE(size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{9});
  const size_t n = GENERATE(size_t{256}, size_t{256 * 7});
  INFO("kernels " << kernels_name(*kernels) << " tokens " << tokens << " n " << n);
  if (kernels->for_type(TensorType::q4k_x8).group_tokens_dot == nullptr) return;  // one token at a time
  const std::vector<BlockQ4Kx8> blocks = interleaved(q4k_rows(n, 0.02f, Weights::quantized, 11), n);
  std::vector<std::vector<BlockQ8K>> a(tokens, std::vector<BlockQ8K>(n / 256));
  std::vector<const BlockQ8K*> pointers;
  for (size_t t = 0; t < tokens; ++t) {
    const std::vector<float> x = smoe::test::adversarial_activations(n, int(t % 4), 20 + uint32_t(t));
    quantize_row_q8k_ref(x.data(), a[t].data(), n);
    pointers.push_back(a[t].data());
  }
  std::vector<float> together(8 * tokens);
  kernels->for_type(TensorType::q4k_x8)
      .group_tokens_dot(blocks.data(), reinterpret_cast<const void* const*>(pointers.data()), tokens, n,
                        together.data());
  for (size_t t = 0; t < tokens; ++t) {
    float alone[8];
    kernels->for_type(TensorType::q4k_x8).group_dot(blocks.data(), a[t].data(), n, alone);
    INFO("token " << t);
    for (size_t r = 0; r < 8; ++r) CHECK(together[8 * t + r] == alone[r]);
  }
}
