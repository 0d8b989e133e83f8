// ops::matmul against the dequantized rows for every weight type, and ops::matmul_shared_input
// (q, k, v or w1, w3 in one pass) against one ops::matmul per matrix: exactly the same, the
// same kernels on the same quantized activations, only fewer barriers.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "ops/gemm.h"
#include "ops/matmul.h"
#include "quant/convert_row.h"
#include "quant/dequantize_bf16.h"
#include "quant/tensor_type.h"

using namespace smoe;

namespace {

struct StoredMatrix {
  std::vector<std::byte> bytes;
  format::TensorView view;
};

StoredMatrix random_matrix(quant::TensorType type, size_t rows, size_t columns, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> row(columns);
  const size_t row_bytes = *quant::row_bytes(type, columns);
  StoredMatrix m{std::vector<std::byte>(rows * row_bytes), {}};
  for (size_t r = 0; r < rows; ++r) {
    for (float& value : row) value = normal(generator);
    quant::quantize_row(type, row.data(), m.bytes.data() + r * row_bytes, columns);
  }
  m.view = {"m" + std::to_string(seed), type, {rows, columns}, 0, m.bytes.size(), 0, m.bytes.data()};
  return m;
}

}  // namespace

TEST_CASE("matrices sharing an input multiply as they do one by one", "[ops][matmul]") {
  const quant::TensorType type = GENERATE(quant::TensorType::q8, quant::TensorType::q4k, quant::TensorType::f16);
  const size_t tokens = GENERATE(size_t{1}, size_t{3}, ops::kGemmMinTokens);  // decode, small batch, gemm path
  const int threads = GENERATE(1, 2);
  INFO("type " << quant::type_name(type) << " tokens " << tokens << " threads " << threads);
  const size_t columns = 512;
  const StoredMatrix a = random_matrix(type, 96, columns, 1), b = random_matrix(type, 32, columns, 2),
                     c = random_matrix(type, 33, columns, 3);  // odd row counts split unevenly
  std::vector<float> x(tokens * columns);
  std::mt19937 generator(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& value : x) value = normal(generator);

  std::vector<float> ya(tokens * 96), yb(tokens * 32), yc(tokens * 33);
  const ops::MatmulOutput outputs[] = {{&a.view, ya.data()}, {&b.view, yb.data()}, {&c.view, yc.data()}};
  ops::matmul_shared_input(outputs, x.data(), tokens, threads);
  for (const ops::MatmulOutput& output : outputs) {
    std::vector<float> expected(tokens * output.w->shape[0]);
    ops::matmul(*output.w, x.data(), tokens, expected.data(), threads);
    CHECK(std::equal(expected.begin(), expected.end(), output.y));
  }

  // Different types (or widths) fall back to one matmul each.
  const StoredMatrix other = random_matrix(type == quant::TensorType::q8 ? quant::TensorType::q4k : quant::TensorType::q8,
                                           16, columns, 4);
  std::vector<float> y_other(tokens * 16), expected_other(tokens * 16);
  const ops::MatmulOutput mixed[] = {{&a.view, ya.data()}, {&other.view, y_other.data()}};
  ops::matmul_shared_input(mixed, x.data(), tokens, threads);
  ops::matmul(other.view, x.data(), tokens, expected_other.data(), threads);
  CHECK(y_other == expected_other);
}

TEST_CASE("matmul multiplies every weight type as its dequantized rows do", "[ops][matmul]") {
  const quant::TensorType type =
      GENERATE(quant::TensorType::f32, quant::TensorType::f16, quant::TensorType::bf16, quant::TensorType::q8,
               quant::TensorType::q4, quant::TensorType::q4k, quant::TensorType::q6k, quant::TensorType::q3k);
  const size_t tokens = GENERATE(size_t{1}, size_t{3}, ops::kGemmMinTokens);  // decode, small batch, gemm path
  const int threads = GENERATE(1, 2);
  INFO("type " << quant::type_name(type) << " tokens " << tokens << " threads " << threads);
  const size_t rows = 37, columns = 768;  // 3 super-blocks; 37 rows split unevenly
  const StoredMatrix m = random_matrix(type, rows, columns, 5);
  std::vector<float> x(tokens * columns);
  std::mt19937 generator(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& value : x) value = normal(generator);
  std::vector<float> y(tokens * rows);
  ops::matmul(m.view, x.data(), tokens, y.data(), threads);

  // Float weights multiply f32 activations (summation order apart); quantized ones multiply
  // activations rounded to 8 bits (the gemm path: to bf16 or not at all). bf16 weights in the
  // gemm path on a CPU with native bf16 (ops/gemm_onednn.cpp's rule) multiply bf16 activations:
  // each rounded to 8 significant bits, off by at most 2^-8 of itself, plus the f32 sums.
  constexpr double kFloatTolerance = 1e-5, kBf16ActivationTolerance = 0x1p-8 + 1e-5, kQuantizedTolerance = 1e-2;
  const bool quantized = quant::type_traits(type).is_quantized;
  const bool bf16_activations =
      type == quant::TensorType::bf16 && tokens >= ops::kGemmMinTokens && quant::cpu_has_native_bf16();
  const double tolerance = quantized ? kQuantizedTolerance : bf16_activations ? kBf16ActivationTolerance : kFloatTolerance;
  std::vector<float> row(columns);
  for (size_t r = 0; r < rows; ++r) {
    quant::dequantize_row(type, m.bytes.data() + r * (m.bytes.size() / rows), row.data(), columns);
    for (size_t t = 0; t < tokens; ++t) {
      double exact = 0, magnitude = 0;
      for (size_t i = 0; i < columns; ++i) {
        exact += double(row[i]) * x[t * columns + i];
        magnitude += std::fabs(double(row[i]) * x[t * columns + i]);
      }
      INFO("row " << r << " token " << t);
      CHECK(std::fabs(y[t * rows + r] - exact) <= tolerance * magnitude);
    }
  }
}
