// Importance matrices: accumulation, file round trip, bad files, and that the quantizers
// honour importance (errors shrink where importance is high).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "convert/importance_matrix.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "smoe/error.h"
#include "support/temp_dir.h"

using namespace smoe;

TEST_CASE("importance matrices accumulate mean squares and survive a file round trip", "[imatrix]") {
  convert::ImportanceMatrix matrix;
  const float x[2 * 3] = {1, 2, 3, -1, 0, 1};  // two rows of three columns
  matrix.add("layers.0.attn.q", x, 2, 3);
  matrix.add_count("routing.0", 5, 8);
  test::TempDir dir;
  matrix.save(dir.file("m.imatrix"));
  const convert::ImportanceMatrix loaded = convert::ImportanceMatrix::load(dir.file("m.imatrix"));
  CHECK(loaded.importance("layers.0.attn.q", 3) == std::vector<float>{1.0f, 2.0f, 5.0f});
  CHECK(loaded.importance("layers.0.experts.3.w1", 3).empty());  // never seen: no weighting
  CHECK_THROWS_WITH(loaded.importance("layers.0.attn.q", 4), Catch::Contains("m.imatrix") && Catch::Contains("columns"));
  CHECK(loaded.entries().at("routing.0").sum_squares[5] == 1.0);
}

TEST_CASE("an importance matrix kept in memory quantizes as its saved file would", "[imatrix]") {
  convert::ImportanceMatrix matrix;
  const float x[3 * 2] = {0.1f, 3.0f, -0.7f, 1e-3f, 2.5f, -4.0f};  // three rows of two columns
  matrix.add("layers.0.attn.q", x, 3, 2);
  matrix.add_count("routing.0", 1, 8);
  matrix.add_count("routing.0", 1, 8);
  test::TempDir dir;
  matrix.save(dir.file("m.imatrix"));
  const convert::ImportanceMatrix loaded = convert::ImportanceMatrix::load(dir.file("m.imatrix"));
  const convert::ImportanceMatrix in_memory = matrix.as_loaded("self-calibration");
  CHECK(in_memory.importance("layers.0.attn.q", 2) == loaded.importance("layers.0.attn.q", 2));
  CHECK(in_memory.entries().at("routing.0").sum_squares == loaded.entries().at("routing.0").sum_squares);
  CHECK_THROWS_WITH(in_memory.importance("layers.0.attn.q", 3), Catch::Contains("self-calibration"));
}

TEST_CASE("bad importance matrix files are refused with the file named", "[imatrix][bad_input]") {
  test::TempDir dir;
  convert::ImportanceMatrix matrix;
  const float x[4] = {1, 2, 3, 4};
  matrix.add("output", x, 1, 4);
  matrix.save(dir.file("good.imatrix"));
  const std::vector<char> good = test::read_file(dir.file("good.imatrix"));
  struct Case {
    const char* name;
    std::vector<char> bytes;
    const char* expected;
  };
  std::vector<char> wrong_magic = good, truncated(good.begin(), good.end() - 3), huge_count = good, negative = good,
                    trailing = good;
  wrong_magic[0] = 'X';
  const uint32_t many = 0xffffffffu;
  std::memcpy(huge_count.data() + 8, &many, 4);
  const float minus_one = -1.0f;
  std::memcpy(negative.data() + negative.size() - 4, &minus_one, 4);
  trailing.push_back(0);
  for (const Case& bad : std::vector<Case>{{"wrong magic", wrong_magic, "wrong magic"},
                                           {"truncated", truncated, "truncated"},
                                           {"huge count", huge_count, "exceeds"},
                                           {"negative value", negative, "negative"},
                                           {"trailing data", trailing, "trailing"}}) {
    SECTION(bad.name) {
      test::write_file(dir.file("bad.imatrix"), bad.bytes);
      CHECK_THROWS_WITH(convert::ImportanceMatrix::load(dir.file("bad.imatrix")),
                        Catch::Contains("bad.imatrix") && Catch::Contains(bad.expected));
    }
  }
}

TEST_CASE("q4 and q4k spend their precision where importance is high", "[imatrix][quant]") {
  std::mt19937 generator(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t n = 256 * 64;
  std::vector<float> x(n), importance(n), plain(n), weighted(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = normal(generator);
    importance[i] = i % 32 < 4 ? 100.0f : 1.0f;  // the first 4 weights of every block matter most
  }
  auto weighted_error = [&](const std::vector<float>& y) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += importance[i] * double(x[i] - y[i]) * double(x[i] - y[i]);
    return sum;
  };
  std::vector<quant::BlockQ4> q4(n / 32);
  quant::quantize_row_q4_ref(x.data(), q4.data(), n);
  quant::dequantize_row_q4_ref(q4.data(), plain.data(), n);
  quant::quantize_row_q4_ref(x.data(), q4.data(), n, importance.data());
  quant::dequantize_row_q4_ref(q4.data(), weighted.data(), n);
  CHECK(weighted_error(weighted) < weighted_error(plain));
  std::vector<quant::BlockQ4K> q4k(n / 256);
  quant::quantize_row_q4k_ref(x.data(), q4k.data(), n);
  quant::dequantize_row_q4k_ref(q4k.data(), plain.data(), n);
  quant::quantize_row_q4k_ref(x.data(), q4k.data(), n, importance.data());
  quant::dequantize_row_q4k_ref(q4k.data(), weighted.data(), n);
  CHECK(weighted_error(weighted) < weighted_error(plain));
}
