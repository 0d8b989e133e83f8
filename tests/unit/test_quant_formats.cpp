// q8 and q4 scalar references: round-trip error bounds on random and adversarial blocks, and
// dot products that agree with dequantize-then-multiply.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/half.h"

using namespace smoe::quant;

namespace {

// Blocks of random data plus the cases that break naive quantizers.
std::vector<float> test_rows(size_t blocks) {
  std::mt19937 generator(1234);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> values(blocks * 32);
  for (float& value : values) value = normal(generator);
  auto block = [&](size_t b) { return values.begin() + static_cast<long>(b * 32); };
  std::fill(block(0), block(1), 0.0f);                // all zeros
  std::fill(block(1), block(2), 3.5f);                // constant
  std::fill(block(2), block(3), -1e-7f);              // tiny constant
  *block(3) = 1000.0f;                                 // one outlier
  for (int i = 0; i < 32; ++i) *(block(4) + i) = i % 2 ? 60000.0f : -60000.0f;  // extreme scale
  for (int i = 0; i < 32; ++i) *(block(5) + i) = 1e-6f * float(i);               // tiny range
  for (int i = 0; i < 32; ++i) *(block(6) + i) = 100.0f + 0.01f * float(i);      // offset range
  return values;
}

}  // namespace

TEST_CASE("q8 round trip stays within half a step of each block's scale", "[quant][q8]") {
  const std::vector<float> x = test_rows(64);
  std::vector<BlockQ8> blocks(x.size() / 32);
  std::vector<float> y(x.size());
  quantize_row_q8_ref(x.data(), blocks.data(), x.size());
  dequantize_row_q8_ref(blocks.data(), y.data(), x.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (size_t i = 0; i < 32; ++i) {
      INFO("block " << b << " element " << i << " x=" << x[b * 32 + i] << " y=" << y[b * 32 + i]);
      REQUIRE(std::fabs(x[b * 32 + i] - y[b * 32 + i]) <= q8_error_bound(d));
    }
  }
}

TEST_CASE("q4 round trip stays within the documented bound and beats min/max", "[quant][q4]") {
  const std::vector<float> x = test_rows(64);
  std::vector<BlockQ4> blocks(x.size() / 32);
  std::vector<float> y(x.size());
  quantize_row_q4_ref(x.data(), blocks.data(), x.size());
  dequantize_row_q4_ref(blocks.data(), y.data(), x.size());
  double searched_error = 0, minmax_error = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const auto [lo, hi] = std::minmax_element(x.begin() + long(b * 32), x.begin() + long(b * 32 + 32));
    const float bound = q4_error_bound(*lo, *hi);
    const float step = (*hi - *lo) / 15;
    for (size_t i = 0; i < 32; ++i) {
      const float value = x[b * 32 + i];
      INFO("block " << b << " element " << i << " x=" << value << " y=" << y[b * 32 + i]);
      REQUIRE(std::fabs(value - y[b * 32 + i]) <= bound);
      const float minmax = step > 0 ? *lo + step * std::nearbyint((value - *lo) / step) : *lo;
      if (b >= 8) {  // random blocks: compare the search against plain min/max
        searched_error += double(value - y[b * 32 + i]) * double(value - y[b * 32 + i]);
        minmax_error += double(value - minmax) * double(value - minmax);
      }
    }
  }
  CHECK(searched_error < minmax_error * 0.95);
}

TEST_CASE("q4k round trip stays within its bound and close to q4's error at 4.5 bits", "[quant][q4k]") {
  const std::vector<float> x = test_rows(256);  // 32 super-blocks, the first holding the adversarial blocks
  std::vector<BlockQ4K> blocks(x.size() / 256);
  std::vector<BlockQ4> q4(x.size() / 32);
  std::vector<float> y(x.size()), y4(x.size());
  quantize_row_q4k_ref(x.data(), blocks.data(), x.size());
  dequantize_row_q4k_ref(blocks.data(), y.data(), x.size());
  quantize_row_q4_ref(x.data(), q4.data(), x.size());
  dequantize_row_q4_ref(q4.data(), y4.data(), x.size());
  double q4k_error = 0, q4_error = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const float d = f16_to_f32(blocks[b].d), dmin = f16_to_f32(blocks[b].dmin);
    for (size_t j = 0; j < 8; ++j) {
      const size_t first = b * 256 + j * 32;
      const auto [lo, hi] = std::minmax_element(x.begin() + long(first), x.begin() + long(first + 32));
      const float bound = q4k_error_bound(*lo, *hi, d, dmin);
      for (size_t i = first; i < first + 32; ++i) {
        INFO("block " << b << " sub-block " << j << " x=" << x[i] << " y=" << y[i] << " bound " << bound);
        REQUIRE(std::fabs(x[i] - y[i]) <= bound);
        if (b > 0) {
          q4k_error += double(x[i] - y[i]) * double(x[i] - y[i]);
          q4_error += double(x[i] - y4[i]) * double(x[i] - y4[i]);
        }
      }
    }
  }
  CHECK(q4k_error < q4_error * 1.5);
}

TEST_CASE("q4k scale packing round-trips every 6-bit pair", "[quant][q4k]") {
  BlockQ4K block{};
  std::vector<float> x(256);
  for (size_t i = 0; i < 256; ++i) x[i] = float(int(i % 32) - 8) * float(1 + i / 32);  // distinct sub-block ranges
  quantize_row_q4k_ref(x.data(), &block, 256);
  for (size_t j = 0; j < 8; ++j) {
    uint8_t scale = 0, min = 0;
    q4k_scale_min(block.scales, j, &scale, &min);
    CHECK(scale <= 63);
    CHECK(min <= 63);
  }
  std::vector<float> y(256);
  dequantize_row_q4k_ref(&block, y.data(), 256);
  const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
  for (size_t i = 0; i < 256; ++i) {
    const float lo = -8.0f * float(1 + i / 32), hi = 23.0f * float(1 + i / 32);
    CHECK(std::fabs(y[i] - x[i]) <= q4k_error_bound(lo, hi, d, dmin));
  }
}

TEST_CASE("q4k's word-wise scale unpacking equals the per-sub-block definition", "[quant][q4k]") {
  std::mt19937 generator(11);
  for (int trial = 0; trial < 1000; ++trial) {
    uint8_t packed[12];
    for (uint8_t& byte : packed) byte = static_cast<uint8_t>(generator());
    uint8_t unpacked[16];
    q4k_unpack_scales(packed, unpacked);
    for (size_t j = 0; j < 8; ++j) {
      uint8_t scale = 0, min = 0;
      q4k_scale_min(packed, j, &scale, &min);
      REQUIRE(unpacked[j] == scale);
      REQUIRE(unpacked[8 + j] == min);
    }
  }
}
