// q8_x8 (eight interleaved q8 rows): the layout converts to and from q8 bit for bit, its scalar
// reference equals q8's on every row, and every kernel table agrees with it on quantized rows
// and on raw blocks at their extremes (weights -128 and 127, which only raw GGUF blocks hold,
// against activations +-127).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "quant/formats/block_q8_x8.h"
#include "quant/formats/half.h"
#include "quant/kernels.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

constexpr double kOrderTolerance = 1e-5;  // relative to sum |w x|, as in test_kernels.cpp

enum class Weights { quantized, raw_random, raw_lowest, raw_highest };

// Eight rows of n weights as q8: quantized normal values (row r with spread scale * (r + 1)),
// raw random bytes, or every value -128 (or 127), raw ones with a finite scale.
std::vector<BlockQ8> q8_rows(size_t n, float scale, Weights weights, uint32_t seed) {
  std::vector<BlockQ8> rows(8 * n / 32);
  if (weights != Weights::quantized) {
    std::mt19937 generator(seed);
    for (BlockQ8& block : rows) {
      block.d = f32_to_f16(0.002f * float(1 + generator() % 4));
      for (int8_t& q : block.qs) {
        q = weights == Weights::raw_lowest    ? int8_t{-128}
            : weights == Weights::raw_highest ? int8_t{127}
                                              : static_cast<int8_t>(generator());
      }
    }
    return rows;
  }
  for (size_t r = 0; r < 8; ++r) {
    const std::vector<float> w = smoe::test::normal_values(n, scale * float(r + 1), seed + uint32_t(r));
    quantize_row_q8_ref(w.data(), rows.data() + r * n / 32, n);
  }
  return rows;
}

std::vector<BlockQ8x8> interleaved(const std::vector<BlockQ8>& rows, size_t n) {
  const BlockQ8* pointers[8];
  for (size_t r = 0; r < 8; ++r) pointers[r] = rows.data() + r * n / 32;
  std::vector<BlockQ8x8> blocks(n / 32);
  interleave_q8_x8(pointers, blocks.data(), n);
  return blocks;
}

// The eight rows of `blocks` taken apart by `deinterleave` (the reference or a table's), laid out
// as q8_rows lays them.
template <class Deinterleave>
std::vector<BlockQ8> deinterleaved(const std::vector<BlockQ8x8>& blocks, size_t n, Deinterleave deinterleave) {
  std::vector<BlockQ8> rows(8 * n / 32);
  BlockQ8* pointers[8];
  for (size_t r = 0; r < 8; ++r) pointers[r] = rows.data() + r * n / 32;
  deinterleave(blocks.data(), pointers, n);
  return rows;
}

// The table's row de-interleaver, with the typed signature of the reference.
auto table_deinterleave(const Kernels& kernels) {
  return [&kernels](const BlockQ8x8* blocks, BlockQ8* const rows[8], size_t n) {
    void* untyped_rows[8];
    for (size_t r = 0; r < 8; ++r) untyped_rows[r] = rows[r];
    kernels.for_type(TensorType::q8_x8).deinterleave(blocks, untyped_rows, n);
  };
}

}  // namespace

TEST_CASE("q8_x8 interleaving is lossless and lays the bytes out as documented", "[kernels][q8_x8]") {
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_random);
  const size_t n = 32 * 5;
  const std::vector<BlockQ8> rows = q8_rows(n, 0.02f, weights, 5);
  const std::vector<BlockQ8x8> blocks = interleaved(rows, n);
  const std::vector<BlockQ8> back = deinterleaved(blocks, n, deinterleave_q8_x8_rows);
  REQUIRE(std::memcmp(back.data(), rows.data(), sizeof(BlockQ8) * back.size()) == 0);
  // Group g holds at byte 4r + t row r's weight 4g + t (block 3 of each row).
  for (size_t r = 0; r < 8; ++r) {
    const BlockQ8& row = rows[r * n / 32 + 3];
    REQUIRE(blocks[3].d[r] == row.d);
    for (size_t i = 0; i < 32; ++i) REQUIRE(blocks[3].qs[32 * (i / 4) + 4 * r + i % 4] == row.qs[i]);
  }
}

TEST_CASE("every table de-interleaves q8_x8 rows as the reference does", "[kernels][q8_x8]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_random);
  INFO("kernels " << kernels_name(*kernels) << " weights " << int(weights));
  const size_t n = 32 * 9;
  const std::vector<BlockQ8> rows = q8_rows(n, 0.02f, weights, 9);
  const std::vector<BlockQ8x8> blocks = interleaved(rows, n);
  REQUIRE(kernels->for_type(TensorType::q8_x8).deinterleave != nullptr);
  const std::vector<BlockQ8> back = deinterleaved(blocks, n, table_deinterleave(*kernels));
  CHECK(std::memcmp(back.data(), rows.data(), sizeof(BlockQ8) * back.size()) == 0);
}

TEST_CASE("q8_x8 kernels agree with q8's scalar reference", "[kernels][q8_x8]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const size_t n = GENERATE(size_t{32}, size_t{32 * 7}, size_t{4096}, size_t{14336});
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_random, Weights::raw_lowest, Weights::raw_highest);
  const int activations = GENERATE(0, 1, 2, 3);  // normal with an outlier, all +127, all -127, alternating
  INFO("kernels " << kernels_name(*kernels) << " n " << n << " weights " << int(weights) << " activations "
                  << activations);
  REQUIRE(kernels->for_type(TensorType::q8_x8).group_dot != nullptr);
  const std::vector<BlockQ8> rows = q8_rows(n, 0.02f, weights, 7);
  const std::vector<BlockQ8x8> blocks = interleaved(rows, n);

  const std::vector<float> x = smoe::test::adversarial_activations(n, activations, 8);
  std::vector<BlockQ8A> a(n / 32);
  quantize_row_q8a_ref(x.data(), a.data(), n);

  float reference[8], candidate[8];
  dot_q8_x8_q8a_ref(blocks.data(), a.data(), n, reference);
  kernels->for_type(TensorType::q8_x8).group_dot(blocks.data(), a.data(), n, candidate);
  std::vector<float> dequantized(n);
  for (size_t r = 0; r < 8; ++r) {
    const BlockQ8* row = rows.data() + r * n / 32;
    // The reference sums in dot_q8_q8a_ref's order: the same float, bit for bit.
    REQUIRE(reference[r] == dot_q8_q8a_ref(row, a.data(), n));
    dequantize_row_q8_ref(row, dequantized.data(), n);
    double magnitude = 0;
    for (size_t i = 0; i < n; ++i) magnitude += std::fabs(double(dequantized[i]) * a[i / 32].d * a[i / 32].qs[i % 32]);
    INFO("row " << r);
    CHECK(candidate[r] == Approx(reference[r]).margin(kOrderTolerance * (magnitude + 1e-30)));
  }
}

TEST_CASE("the q8_x8 kernels of several tokens give each token's one-token sums, bit for bit", "[kernels][q8_x8]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  // 8, 9, 13 and 17: passes of eight tokens (AVX-512), then of four, then the rest.
  const size_t tokens =
      GENERATE(size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{8}, size_t{9}, size_t{13}, size_t{17});
  const size_t n = GENERATE(size_t{32 * 7}, size_t{4096});
  const Weights weights = GENERATE(Weights::quantized, Weights::raw_lowest);
  INFO("kernels " << kernels_name(*kernels) << " tokens " << tokens << " n " << n << " weights " << int(weights));
  if (kernels->for_type(TensorType::q8_x8).group_tokens_dot == nullptr) return;  // one token at a time
  const std::vector<BlockQ8x8> blocks = interleaved(q8_rows(n, 0.02f, weights, 13), n);
  std::vector<std::vector<BlockQ8A>> a(tokens, std::vector<BlockQ8A>(n / 32));
  std::vector<const BlockQ8A*> pointers;
  for (size_t t = 0; t < tokens; ++t) {
    const std::vector<float> x = smoe::test::adversarial_activations(n, int(t % 4), 30 + uint32_t(t));
    quantize_row_q8a_ref(x.data(), a[t].data(), n);
    pointers.push_back(a[t].data());
  }
  std::vector<float> together(8 * tokens);
  kernels->for_type(TensorType::q8_x8)
      .group_tokens_dot(blocks.data(), reinterpret_cast<const void* const*>(pointers.data()), tokens, n,
                        together.data());
  for (size_t t = 0; t < tokens; ++t) {
    float alone[8];
    kernels->for_type(TensorType::q8_x8).group_dot(blocks.data(), a[t].data(), n, alone);
    INFO("token " << t);
    for (size_t r = 0; r < 8; ++r) CHECK(together[8 * t + r] == alone[r]);
  }
}
