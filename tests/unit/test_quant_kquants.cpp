// q6k and q3k scalar references: every weight lands on the nearest level of its sub-block's
// final grid, the error falls with the bits spent (q3k > q4k > q6k), and the dot products
// agree with dequantize-then-multiply.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8a.h"
#include "quant/formats/half.h"

using namespace smoe::quant;

namespace {

// Super-blocks of random data with adversarial sub-blocks in the first one.
std::vector<float> test_rows(size_t super_blocks) {
  std::mt19937 generator(99);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> values(super_blocks * 256);
  for (float& value : values) value = normal(generator);
  auto sub = [&](size_t j) { return values.begin() + static_cast<long>(j * 16); };
  std::fill(sub(0), sub(1), 0.0f);
  std::fill(sub(1), sub(2), 3.5f);
  *sub(2) = 1000.0f;
  for (int i = 0; i < 16; ++i) *(sub(3) + i) = i % 2 ? 60000.0f : -60000.0f;
  for (int i = 0; i < 16; ++i) *(sub(4) + i) = 1e-6f * float(i);
  for (int i = 0; i < 16; ++i) *(sub(5) + i) = 100.0f + 0.01f * float(i);
  return values;
}

// Distance from x to the nearest level of {step * L : L in [lowest, highest]}.
float nearest_level_error(float x, float step, int lowest, int highest) {
  if (step == 0.0f) return std::fabs(x);
  const float level = std::clamp(std::nearbyint(x / step), float(lowest), float(highest));
  return std::fabs(x - step * level);
}

double squared_error(const std::vector<float>& x, const std::vector<float>& y, size_t first) {
  double sum = 0;
  for (size_t i = first; i < x.size(); ++i) sum += double(x[i] - y[i]) * double(x[i] - y[i]);
  return sum;
}

}  // namespace

TEST_CASE("q6k and q3k store each weight on the nearest level of its sub-block's grid", "[quant][kquants]") {
  const std::vector<float> x = test_rows(16);
  std::vector<BlockQ6K> q6(x.size() / 256);
  std::vector<BlockQ3K> q3(x.size() / 256);
  std::vector<float> y6(x.size()), y3(x.size());
  quantize_row_q6k_ref(x.data(), q6.data(), x.size());
  dequantize_row_q6k_ref(q6.data(), y6.data(), x.size());
  quantize_row_q3k_ref(x.data(), q3.data(), x.size());
  dequantize_row_q3k_ref(q3.data(), y3.data(), x.size());
  for (size_t b = 0; b < q6.size(); ++b) {
    int8_t q3_scales[16];
    q3k_unpack_scales(q3[b].scales, q3_scales);
    for (size_t j = 0; j < 16; ++j) {
      const float step6 = f16_to_f32(q6[b].d) * float(q6[b].scales[j]);
      const float step3 = f16_to_f32(q3[b].d) * float(q3_scales[j]);
      for (size_t i = b * 256 + j * 16; i < b * 256 + j * 16 + 16; ++i) {
        INFO("super-block " << b << " sub-block " << j << " x=" << x[i] << " q6k " << y6[i] << " q3k " << y3[i]);
        REQUIRE(std::fabs(x[i] - y6[i]) <= nearest_level_error(x[i], step6, -32, 31) * 1.0001f + 1e-30f);
        REQUIRE(std::fabs(x[i] - y3[i]) <= nearest_level_error(x[i], step3, -4, 3) * 1.0001f + 1e-30f);
      }
    }
  }
  // Gaussian sub-blocks: the least-squares search may clip the largest weight by up to 0.9
  // levels of a grid of 32 (q6k) or 4 (q3k) steps, plus the rounding of the sub-block scales.
  for (size_t j = 16; j < x.size() / 16; ++j) {
    float peak = 0;
    for (size_t i = j * 16; i < j * 16 + 16; ++i) peak = std::max(peak, std::fabs(x[i]));
    for (size_t i = j * 16; i < j * 16 + 16; ++i) {
      REQUIRE(std::fabs(x[i] - y6[i]) <= peak / 32.0f);
      REQUIRE(std::fabs(x[i] - y3[i]) <= peak / 4.0f);
    }
  }
}

TEST_CASE("super-block error falls with the bits spent: q3k > q4k > q6k", "[quant][kquants]") {
  const std::vector<float> x = test_rows(32);
  std::vector<BlockQ6K> q6(x.size() / 256);
  std::vector<BlockQ4K> q4(x.size() / 256);
  std::vector<BlockQ3K> q3(x.size() / 256);
  std::vector<float> y6(x.size()), y4(x.size()), y3(x.size());
  quantize_row_q6k_ref(x.data(), q6.data(), x.size());
  dequantize_row_q6k_ref(q6.data(), y6.data(), x.size());
  quantize_row_q4k_ref(x.data(), q4.data(), x.size());
  dequantize_row_q4k_ref(q4.data(), y4.data(), x.size());
  quantize_row_q3k_ref(x.data(), q3.data(), x.size());
  dequantize_row_q3k_ref(q3.data(), y3.data(), x.size());
  const double e6 = squared_error(x, y6, 256), e4 = squared_error(x, y4, 256), e3 = squared_error(x, y3, 256);
  INFO("squared error q6k " << e6 << " q4k " << e4 << " q3k " << e3);
  CHECK(e6 < e4 / 8);  // two more bits: ~16x less in theory
  CHECK(e3 > e4 * 1.5);
  CHECK(e3 < e4 * 6);  // one bit less: ~4x more
}

TEST_CASE("importance weighting moves q6k and q3k precision to the important weights", "[quant][kquants][imatrix]") {
  const std::vector<float> x = test_rows(8);
  std::vector<float> importance(x.size(), 1.0f);
  for (size_t i = 0; i < x.size(); i += 4) importance[i] = 100.0f;
  auto weighted_error = [&](auto quantize, auto dequantize, auto& blocks, const float* imp) {
    std::vector<float> y(x.size());
    quantize(x.data(), blocks.data(), x.size(), imp);
    dequantize(blocks.data(), y.data(), x.size());
    double sum = 0;
    for (size_t i = 256; i < x.size(); ++i) sum += importance[i] * double(x[i] - y[i]) * double(x[i] - y[i]);
    return sum;
  };
  std::vector<BlockQ3K> q3(x.size() / 256);
  std::vector<BlockQ6K> q6(x.size() / 256);
  CHECK(weighted_error(quantize_row_q3k_ref, dequantize_row_q3k_ref, q3, importance.data()) <
        weighted_error(quantize_row_q3k_ref, dequantize_row_q3k_ref, q3, nullptr));
  CHECK(weighted_error(quantize_row_q6k_ref, dequantize_row_q6k_ref, q6, importance.data()) <
        weighted_error(quantize_row_q6k_ref, dequantize_row_q6k_ref, q6, nullptr));
}

TEST_CASE("q6k and q3k dot products agree with dequantize-then-multiply", "[quant][kquants]") {
  std::vector<float> w = test_rows(8);
  w.erase(w.begin(), w.begin() + 256);  // random part
  const size_t n = w.size();
  std::vector<float> x(n), y(n);
  for (size_t i = 0; i < n; ++i) x[i] = std::cos(float(i));
  std::vector<BlockQ8K> activations(n / 256);
  quantize_row_q8k_ref(x.data(), activations.data(), n);
  auto check = [&](auto& blocks, auto quantize, auto dequantize, auto dot_q8k) {
    quantize(w.data(), blocks.data(), n, nullptr);
    dequantize(blocks.data(), y.data(), n);
    double exact = 0, magnitude = 0;
    for (size_t i = 0; i < n; ++i) {
      exact += double(y[i]) * x[i];
      magnitude += std::fabs(double(y[i]) * x[i]);
    }
    CHECK(std::fabs(dot_q8k(blocks.data(), activations.data(), n) - exact) < 0.01 * magnitude);
  };
  std::vector<BlockQ6K> q6(n / 256);
  std::vector<BlockQ3K> q3(n / 256);
  check(q6, quantize_row_q6k_ref, dequantize_row_q6k_ref, dot_q6k_q8k_ref);
  check(q3, quantize_row_q3k_ref, dequantize_row_q3k_ref, dot_q3k_q8k_ref);
}
