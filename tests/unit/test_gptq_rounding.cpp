// GPTQ rounding (quant/gptq_rounding.h) on synthetic rows and correlated synthetic inputs: it
// lowers the output error X (W - W')^T below nearest rounding's in the same format, its bytes
// are the format's (the existing decoder reads them, and with H = identity they are nearest
// rounding's exactly), and the result does not depend on the threads quantizing the rows.
// Also the covariance blocks calibration gathers for it (convert/input_covariance.h).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "convert/input_covariance.h"
#include "quant/formats/convert_row.h"
#include "quant/formats/tensor_type.h"
#include "quant/gptq_rounding.h"
#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"

using namespace smoe;
using quant::TensorType;

namespace {

constexpr size_t kColumns = 512;  // two super-blocks
constexpr size_t kRows = 24;
constexpr size_t kTokens = 768;

// Inputs with strongly correlated neighbouring columns (an AR(1) chain along the input, as
// activations of neighbouring features are not independent) and a few large "outlier" columns.
std::vector<float> correlated_inputs(uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(kTokens * kColumns);
  for (size_t t = 0; t < kTokens; ++t) {
    float previous = normal(generator);
    for (size_t c = 0; c < kColumns; ++c) {
      previous = 0.9f * previous + 0.45f * normal(generator);
      x[t * kColumns + c] = previous * (c % 97 == 5 ? 6.0f : 1.0f);
    }
  }
  return x;
}

std::vector<float> gaussian_weights(uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(kRows * kColumns);
  for (float& value : w) value = normal(generator);
  return w;
}

// H = X^T X in diagonal blocks of `block` (upper triangles), as InputCovariance keeps it.
std::vector<float> covariance_blocks(const std::vector<float>& x, size_t block) {
  std::vector<float> sums(kColumns * block, 0.0f);
  for (size_t b = 0; b < kColumns / block; ++b) {
    for (size_t t = 0; t < kTokens; ++t) {
      const float* xb = &x[t * kColumns + b * block];
      for (size_t i = 0; i < block; ++i) {
        for (size_t j = i; j < block; ++j) sums[b * block * block + i * block + j] += xb[i] * xb[j];
      }
    }
  }
  return sums;
}

std::vector<float> factors_of(const std::vector<float>& sums, size_t block) {
  std::vector<float> factors(kColumns * block);
  for (size_t b = 0; b < kColumns / block; ++b) {
    REQUIRE(quant::gptq_inverse_factor(&sums[b * block * block], block, 0.01, &factors[b * block * block]));
  }
  return factors;
}

// Mean square of each input column: the importance matrix calibration would give.
std::vector<float> importance_of(const std::vector<float>& x) {
  std::vector<float> importance(kColumns, 0.0f);
  for (size_t t = 0; t < kTokens; ++t) {
    for (size_t c = 0; c < kColumns; ++c) importance[c] += x[t * kColumns + c] * x[t * kColumns + c] / kTokens;
  }
  return importance;
}

quant::QuantizeRowKernel reference_quantizer(TensorType type) { return quant::type_traits(type).quantize_row; }

// All rows quantized, either rounded to nearest (factors == nullptr) or by GPTQ.
std::vector<std::byte> quantize_rows(TensorType type, const std::vector<float>& w, const float* importance,
                                     const float* factors, size_t block, int threads = 1) {
  const size_t row_bytes = *quant::row_bytes(type, kColumns);
  std::vector<std::byte> out(kRows * row_bytes);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t r = 0; r < kRows; ++r) {
    if (factors == nullptr) {
      quant::quantize_row(type, &w[r * kColumns], &out[r * row_bytes], kColumns, importance);
    } else {
      quant::quantize_row_gptq(type, reference_quantizer(type), &w[r * kColumns], &out[r * row_bytes], kColumns,
                               importance, factors, block);
    }
  }
  return out;
}

// ||X W^T - X W'^T||^2 with W' the decoded rows.
double output_error(TensorType type, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<std::byte>& bytes) {
  const size_t row_bytes = *quant::row_bytes(type, kColumns);
  std::vector<float> decoded(kColumns);
  double total = 0;
  for (size_t r = 0; r < kRows; ++r) {
    quant::dequantize_row(type, &bytes[r * row_bytes], decoded.data(), kColumns);
    for (size_t t = 0; t < kTokens; ++t) {
      double difference = 0;
      for (size_t c = 0; c < kColumns; ++c) difference += double(x[t * kColumns + c]) * (w[r * kColumns + c] - decoded[c]);
      total += difference * difference;
    }
  }
  return total;
}

}  // namespace

// Algorithm 1 as the paper writes it, one row at a time: the group's scales by the type's own
// quantizer, then each column rounded to nearest on its grid and its error applied at once to
// every later column of the block (the reference the library's tiled, chunked rounding must
// match byte for byte).
template <class Block, void (*Grids)(const Block&, quant::RoundingGrid*), void (*SetValues)(const float*, Block&)>
void textbook_gptq_row(TensorType type, float lowest, float highest, const float* src, Block* out, size_t n,
                       const float* importance, const float* factors, size_t block_columns) {
  const size_t group = Block::kElements;
  std::vector<float> w(src, src + n);
  std::vector<quant::RoundingGrid> grids(group);
  for (size_t first = 0; first < n; first += block_columns) {
    const float* u = factors + (first / block_columns) * block_columns * block_columns;
    for (size_t start = 0; start < block_columns; start += group) {
      Block& block = out[(first + start) / group];
      quant::quantize_row(type, &w[first + start], &block, group, importance ? importance + first + start : nullptr);
      Grids(block, grids.data());
      for (size_t j = start; j < start + group; ++j) {
        const quant::RoundingGrid& grid = grids[j - start];
        const float level = std::clamp(std::nearbyint((w[first + j] + grid.shift) * grid.inverse), lowest, highest);
        const float error = (w[first + j] - (grid.step * level - grid.shift)) / u[j * block_columns + j];
        for (size_t k = j + 1; k < block_columns; ++k) w[first + k] -= error * u[j * block_columns + k];
      }
      SetValues(&w[first + start], block);
    }
  }
}

template <class Block, void (*Grids)(const Block&, quant::RoundingGrid*), void (*SetValues)(const float*, Block&)>
void check_rows_match_textbook(TensorType type, float lowest, float highest) {
  const std::vector<float> x = correlated_inputs(7), w = gaussian_weights(8);
  const std::vector<float> factors = factors_of(covariance_blocks(x, 256), 256), importance = importance_of(x);
  const size_t row_bytes = *quant::row_bytes(type, kColumns);
  std::vector<Block> expected(kRows * kColumns / Block::kElements);
  for (size_t r = 0; r < kRows; ++r) {
    textbook_gptq_row<Block, Grids, SetValues>(type, lowest, highest, &w[r * kColumns],
                                               &expected[r * kColumns / Block::kElements], kColumns, importance.data(),
                                               factors.data(), 256);
  }
  // Tiles of eight rows, a partial tile, a single row.
  for (const size_t rows : {size_t{1}, size_t{5}, size_t{8}, size_t{13}, kRows}) {
    INFO("type " << quant::type_name(type) << " rows " << rows);
    std::vector<std::byte> out(rows * row_bytes);
    quant::quantize_rows_gptq(type, reference_quantizer(type), w.data(), out.data(), rows, kColumns, importance.data(),
                              factors.data(), 256);
    CHECK(std::memcmp(out.data(), expected.data(), out.size()) == 0);
  }
}

TEST_CASE("GPTQ rounding of tiles of rows gives the textbook algorithm's bytes for each row", "[gptq]") {
  check_rows_match_textbook<quant::BlockQ4K, quant::q4k_rounding_grids, quant::q4k_set_values>(TensorType::q4k, 0, 15);
  check_rows_match_textbook<quant::BlockQ4, quant::q4_rounding_grids, quant::q4_set_values>(TensorType::q4, 0, 15);
  check_rows_match_textbook<quant::BlockQ3K, quant::q3k_rounding_grids, quant::q3k_set_values>(TensorType::q3k, -4, 3);
  check_rows_match_textbook<quant::BlockQ6K, quant::q6k_rounding_grids, quant::q6k_set_values>(TensorType::q6k, -32, 31);
}

TEST_CASE("GPTQ rounding lowers the output error on correlated inputs below nearest rounding's", "[gptq]") {
  const TensorType type = GENERATE(TensorType::q4k, TensorType::q3k, TensorType::q6k, TensorType::q4);
  CAPTURE(quant::type_name(type));
  const std::vector<float> x = correlated_inputs(1), w = gaussian_weights(2);
  const std::vector<float> importance = importance_of(x);
  const size_t block = 256;
  const std::vector<float> factors = factors_of(covariance_blocks(x, block), block);
  const double nearest = output_error(type, x, w, quantize_rows(type, w, importance.data(), nullptr, block));
  const double gptq = output_error(type, x, w, quantize_rows(type, w, importance.data(), factors.data(), block));
  INFO("nearest " << nearest << ", gptq " << gptq);
  CHECK(gptq < 0.8 * nearest);
  // Without an importance matrix too (scales fitted with equal weights).
  const double nearest_plain = output_error(type, x, w, quantize_rows(type, w, nullptr, nullptr, block));
  const double gptq_plain = output_error(type, x, w, quantize_rows(type, w, nullptr, factors.data(), block));
  CHECK(gptq_plain < 0.8 * nearest_plain);
}

TEST_CASE("GPTQ rounding with the full H spreads errors across super-blocks", "[gptq]") {
  const std::vector<float> x = correlated_inputs(3), w = gaussian_weights(4);
  const std::vector<float> importance = importance_of(x);
  const std::vector<float> blocks = factors_of(covariance_blocks(x, 256), 256);
  const std::vector<float> full = factors_of(covariance_blocks(x, kColumns), kColumns);
  const TensorType type = TensorType::q3k;
  const double in_blocks = output_error(type, x, w, quantize_rows(type, w, importance.data(), blocks.data(), 256));
  const double whole = output_error(type, x, w, quantize_rows(type, w, importance.data(), full.data(), kColumns));
  INFO("blocks of 256 " << in_blocks << ", full H " << whole);
  CHECK(whole <= in_blocks * 1.02);
}

TEST_CASE("GPTQ rounding with H = identity is nearest rounding byte for byte", "[gptq]") {
  const TensorType type = GENERATE(TensorType::q4k, TensorType::q3k, TensorType::q6k, TensorType::q4);
  CAPTURE(quant::type_name(type));
  const std::vector<float> w = gaussian_weights(5);
  std::vector<float> identity(kColumns * 256, 0.0f);
  for (size_t b = 0; b < kColumns / 256; ++b) {
    for (size_t i = 0; i < 256; ++i) identity[b * 256 * 256 + i * 256 + i] = 1.0f;
  }
  const std::vector<float> factors = factors_of(identity, 256);
  for (const bool with_importance : {false, true}) {
    const std::vector<float> importance(kColumns, 0.5f);
    const float* weights = with_importance ? importance.data() : nullptr;
    CHECK(quantize_rows(type, w, weights, factors.data(), 256) == quantize_rows(type, w, weights, nullptr, 256));
  }
}

TEST_CASE("GPTQ rounding gives the same bytes on any number of threads", "[gptq]") {
  const std::vector<float> x = correlated_inputs(6), w = gaussian_weights(7);
  const std::vector<float> importance = importance_of(x);
  const std::vector<float> factors = factors_of(covariance_blocks(x, 256), 256);
  for (const TensorType type : {TensorType::q4k, TensorType::q3k}) {
    const std::vector<std::byte> one = quantize_rows(type, w, importance.data(), factors.data(), 256, 1);
    CHECK(quantize_rows(type, w, importance.data(), factors.data(), 256, 2) == one);
    CHECK(quantize_rows(type, w, importance.data(), factors.data(), 256, 3) == one);
  }
}

TEST_CASE("GPTQ's inverse factor is the upper Cholesky factor of the dampened inverse", "[gptq]") {
  constexpr size_t n = 6;
  std::mt19937 generator(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> h(n * n, 0.0f);
  for (int t = 0; t < 20; ++t) {
    float v[n];
    for (float& value : v) value = normal(generator);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) h[i * n + j] += v[i] * v[j];
    }
  }
  h[2 * n + 2] = 0.0f;  // an input never seen (its row and column zero)
  for (size_t j = 0; j < n; ++j) h[2 * n + j] = h[j * n + 2] = 0.0f;
  std::vector<float> u(n * n);
  REQUIRE(quant::gptq_inverse_factor(h.data(), n, 0.01, u.data()));
  double mean_diagonal = 0;
  for (size_t i = 0; i < n; ++i) mean_diagonal += h[i * n + i] / n;
  std::vector<double> dampened(h.begin(), h.end());
  dampened[2 * n + 2] = 1.0;
  for (size_t i = 0; i < n; ++i) dampened[i * n + i] += 0.01 * mean_diagonal;
  // (U^T U) H = I.
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      CHECK((j < i ? u[i * n + j] == 0.0f : true));
      double product = 0;
      for (size_t k = 0; k < n; ++k) {
        double inverse_ik = 0;
        for (size_t m = 0; m < n; ++m) inverse_ik += double(u[m * n + i]) * u[m * n + k];
        product += inverse_ik * dampened[k * n + j];
      }
      CHECK(product == Approx(i == j ? 1.0 : 0.0).margin(1e-4));
    }
  }
  std::vector<float> zero(n * n, 0.0f);
  CHECK_FALSE(quant::gptq_inverse_factor(zero.data(), n, 0.01, u.data()));
}

namespace {

// The two steps of gptq_inverse_factor as the textbook writes them, one entry after another.
bool textbook_cholesky_lower(std::vector<double>& a, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double pivot = a[j * n + j];
    for (size_t k = 0; k < j; ++k) pivot -= a[j * n + k] * a[j * n + k];
    if (!(pivot > 0.0)) return false;
    a[j * n + j] = std::sqrt(pivot);
    for (size_t i = j + 1; i < n; ++i) {
      double sum = a[i * n + j];
      for (size_t k = 0; k < j; ++k) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = sum / a[j * n + j];
    }
  }
  return true;
}

std::vector<double> textbook_invert_lower(const std::vector<double>& l, size_t n) {
  std::vector<double> inverse(n * n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    inverse[j * n + j] = 1.0 / l[j * n + j];
    for (size_t i = j + 1; i < n; ++i) {
      double sum = 0;
      for (size_t k = j; k < i; ++k) sum += l[i * n + k] * inverse[k * n + j];
      inverse[i * n + j] = -sum / l[i * n + i];
    }
  }
  return inverse;
}

}  // namespace

// This file is compiled with -ffp-contract=off, as gptq_rounding.cpp is: the textbook loops
// round each product and each sum as the library's do.
TEST_CASE("GPTQ's factorization is the textbook loops', bit for bit", "[gptq]") {
  std::mt19937 generator(21);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const size_t n : {size_t{256}, size_t{203}, size_t{9}, size_t{6}, size_t{1}}) {
    CAPTURE(n);
    // Correlated inputs (a shared component) as calibration gives them, and a dampened diagonal.
    std::vector<double> h(n * n, 0.0), v(n);
    for (int t = 0; t < 400; ++t) {
      const double shared = normal(generator);
      for (size_t i = 0; i < n; ++i) v[i] = normal(generator) + 0.8 * shared;
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) h[i * n + j] += v[i] * v[j];
      }
    }
    for (size_t i = 0; i < n; ++i) h[i * n + i] += 1.0;
    std::vector<double> factor = h, expected = h;
    REQUIRE(quant::cholesky_lower(factor, n));
    REQUIRE(textbook_cholesky_lower(expected, n));
    CHECK(std::memcmp(factor.data(), expected.data(), n * n * sizeof(double)) == 0);
    const std::vector<double> inverse = quant::invert_lower(expected, n);
    const std::vector<double> expected_inverse = textbook_invert_lower(expected, n);
    CHECK(std::memcmp(inverse.data(), expected_inverse.data(), n * n * sizeof(double)) == 0);
  }
  std::vector<double> indefinite = {1.0, 2.0, 2.0, 1.0};
  CHECK_FALSE(quant::cholesky_lower(indefinite, 2));
}

TEST_CASE("calibration keeps one covariance per input, in blocks of 256", "[gptq]") {
  convert::InputCovariance covariance;
  std::vector<float> x(3 * 512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
  covariance.add("layers.0.attn.q", x.data(), 3, 512);
  covariance.add("layers.0.attn.k", x.data(), 3, 512);  // the same input: not added twice
  covariance.add("layers.0.experts.1.w3", x.data(), 2, 512);
  covariance.add("layers.0.router", x.data(), 3, 512);
  covariance.add("layers.0.experts.1.w2", x.data(), 3, 300);  // 256 does not divide 300: not gathered
  covariance.add("layers.0.experts.1.w2", x.data(), 4, 128);  // narrower: one block
  const convert::InputCovariance::Site* q = covariance.find("layers.0.attn.v");
  REQUIRE(q != nullptr);
  CHECK(q == covariance.find("layers.0.attn.q"));
  CHECK(q->tokens == 3);
  CHECK(q->block_columns == 256);
  CHECK(covariance.find("layers.0.experts.1.w1") == nullptr);  // w3 alone adds nothing
  CHECK(covariance.find("layers.0.router") == nullptr);
  const convert::InputCovariance::Site* w2 = covariance.find("layers.0.experts.1.w2");
  REQUIRE(w2 != nullptr);
  CHECK(w2->block_columns == 128);
  CHECK(w2->tokens == 4);
  // Block 1, entry (3, 10): sum over the tokens of x[256 + 3] x[256 + 10].
  double expected = 0;
  for (size_t t = 0; t < 3; ++t) expected += double(x[t * 512 + 259]) * x[t * 512 + 266];
  CHECK(q->sums[256 * 256 + 3 * 256 + 10] == Approx(expected));
  CHECK(covariance.bytes() == (512 * 256 + 128 * 128) * sizeof(float));
  // Too few tokens for a block of 256: nearest rounding (no factors).
  CHECK(convert::gptq_factors(*q).empty());
}
