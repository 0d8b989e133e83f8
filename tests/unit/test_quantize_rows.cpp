// Every kernel table's row quantizers (the converter's inner loop) against the scalar table's:
// the same bytes, bit for bit, on ordinary weights and on the blocks the searches treat
// specially, with and without an importance matrix.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <vector>

#include "quant/kernels.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

constexpr size_t kColumns = 256 * 6;  // whole blocks of every row type

std::vector<TensorType> row_types() {
  std::vector<TensorType> types;
  for (size_t id = 0; id < kTensorTypeCount; ++id) {
    const TensorType type = static_cast<TensorType>(id);
    if (scalar_kernels().for_type(type).quantize_row != nullptr) types.push_back(type);
  }
  return types;
}

// Rows of N(0, 0.02^2) weights, each with a different 32-weight block made awkward: constant,
// all zero, all positive, all negative, a range too small for an f16 scale, one outlier, values
// on rounding ties of the min/max grid, large magnitudes, negative zeros.
std::vector<std::vector<float>> awkward_rows() {
  std::vector<std::vector<float>> rows;
  for (uint32_t seed = 0; seed < 4; ++seed) rows.push_back(smoe::test::normal_values(kColumns, 0.02f, 71 + seed));
  std::vector<float> x = smoe::test::normal_values(kColumns, 0.02f, 90);
  auto block = [&](size_t b) { return x.data() + 32 * b; };
  std::fill_n(block(0), 32, 0.25f);
  std::fill_n(block(1), 32, 0.0f);
  for (size_t i = 0; i < 32; ++i) block(2)[i] = 0.01f + 0.001f * float(i);
  for (size_t i = 0; i < 32; ++i) block(3)[i] = -0.01f - 0.001f * float(i);
  for (size_t i = 0; i < 32; ++i) block(4)[i] = 1.0f + 1e-7f * float(i % 3);
  block(5)[7] = 3.0f;
  for (size_t i = 0; i < 32; ++i) block(6)[i] = float(i % 16) * 0.5f - 0.25f;
  for (size_t i = 0; i < 32; ++i) block(7)[i] = 60000.0f * (float(i) / 31.0f - 0.5f);
  for (size_t i = 0; i < 32; ++i) block(9)[i] = -0.0f;
  rows.push_back(x);
  return rows;
}

}  // namespace

TEST_CASE("every table's row quantizer writes its scalar row's bytes", "[kernels][rows][quantize]") {
  const Kernels* table = GENERATE(from_range(available_kernels()));
  const TensorType type = GENERATE(from_range(row_types()));
  const bool weighted = GENERATE(false, true);
  INFO("kernels " << kernels_name(*table) << " type " << type_name(type) << (weighted ? " with importance" : ""));
  const TypeKernels& row = table->for_type(type);
  const TypeKernels& reference = scalar_kernels().for_type(type);
  REQUIRE(row.quantize_row != nullptr);
  std::vector<float> importance = smoe::test::normal_values(kColumns, 1.0f, 5);
  for (float& value : importance) value = value * value;  // >= 0, some near 0, as squared activations
  importance[40] = 0.0f;
  const size_t size = *row_bytes(type, kColumns);
  const std::vector<std::vector<float>> rows = awkward_rows();
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::byte> expected(size), actual(size);
    reference.quantize_row(rows[r].data(), expected.data(), kColumns, weighted ? importance.data() : nullptr);
    row.quantize_row(rows[r].data(), actual.data(), kColumns, weighted ? importance.data() : nullptr);
    INFO("row " << r);
    CHECK(std::memcmp(expected.data(), actual.data(), size) == 0);
  }
}
