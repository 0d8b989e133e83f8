// Every weight type's row in every kernel table this machine runs (available_kernels() x type
// ids), kernel by kernel against the scalar table's row of the same type: a row naming another
// type's kernel, or leaving one out, fails here. The scalar rows are checked against the type
// table's reference decode, so they cannot name the wrong reference either.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "quant/formats/convert_row.h"
#include "quant/formats/interleave.h"
#include "quant/kernels.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

constexpr size_t kColumns = 256 * 5;  // whole blocks of every type; odd counts of super-blocks
constexpr size_t kRows = kMaxRowGroup;

// Tolerance, relative to the sum of |w x|, of two float sums of the same products in another order.
constexpr double kOrderTolerance = 1e-5;

std::vector<TensorType> weight_types() {
  std::vector<TensorType> types;
  for (size_t id = 0; id < kTensorTypeCount; ++id) {
    if (id != static_cast<size_t>(TensorType::u8)) types.push_back(static_cast<TensorType>(id));
  }
  return types;
}

// kRows rows of `type` (one interleaved group for the interleaved types) from random values, and
// those rows' decoded values.
struct StoredRows {
  std::vector<std::byte> bytes;  // kRows x row_bytes(type, kColumns), in the type's layout
  std::vector<float> decoded;    // (kRows, kColumns)
};
StoredRows stored_rows(TensorType type) {
  const TensorType row = row_type(type);
  const size_t row_size = *row_bytes(row, kColumns);
  StoredRows out{std::vector<std::byte>(kRows * row_size), std::vector<float>(kRows * kColumns)};
  const std::vector<float> w = smoe::test::normal_values(kRows * kColumns, 0.02f, 31);
  std::vector<std::byte> rows(kRows * row_size);
  for (size_t r = 0; r < kRows; ++r) {
    quantize_row(row, &w[r * kColumns], &rows[r * row_size], kColumns);
    dequantize_row(row, &rows[r * row_size], &out.decoded[r * kColumns], kColumns);
  }
  if (row == type) {
    out.bytes = rows;
  } else {
    const std::byte* pointers[kRows];
    for (size_t r = 0; r < kRows; ++r) pointers[r] = &rows[r * row_size];
    interleave_rows(type, pointers, out.bytes.data(), kColumns);
  }
  return out;
}

// One token's activations as the row's dot kernels read them: activation blocks, or f32.
std::vector<std::byte> activations_for(const TypeKernels& row, const std::vector<float>& x) {
  const size_t n = x.size();
  switch (row.activations) {
    case ActivationBlocks::q8a: {
      std::vector<std::byte> out(n / BlockQ8A::kElements * sizeof(BlockQ8A));
      quantize_row_q8a_ref(x.data(), reinterpret_cast<BlockQ8A*>(out.data()), n);
      return out;
    }
    case ActivationBlocks::q8k: {
      std::vector<std::byte> out(n / BlockQ8K::kElements * sizeof(BlockQ8K));
      quantize_row_q8k_ref(x.data(), reinterpret_cast<BlockQ8K*>(out.data()), n);
      return out;
    }
    case ActivationBlocks::none:
      break;
  }
  std::vector<std::byte> out(n * sizeof(float));
  std::memcpy(out.data(), x.data(), out.size());
  return out;
}

// The row's products of the kRows rows with one token, by whichever kernel the type has.
std::vector<float> row_products(const TypeKernels& row, TensorType type, const StoredRows& w,
                                const std::vector<std::byte>& activations) {
  std::vector<float> out(kRows);
  const size_t row_size = *row_bytes(row_type(type), kColumns);
  if (row.group_dot != nullptr) {
    row.group_dot(w.bytes.data(), activations.data(), kColumns, out.data());
  } else if (row.dot != nullptr) {
    for (size_t r = 0; r < kRows; ++r) out[r] = row.dot(&w.bytes[r * row_size], activations.data(), kColumns);
  } else {
    REQUIRE(row.dot_rows != nullptr);
    row.dot_rows(w.bytes.data(), kColumns, kRows, reinterpret_cast<const float*>(activations.data()), kColumns,
                 out.data());
  }
  return out;
}

}  // namespace

TEST_CASE("every weight type has a complete row in every table", "[kernels][rows]") {
  const Kernels* table = GENERATE(from_range(available_kernels()));
  const TensorType type = GENERATE(from_range(weight_types()));
  INFO("kernels " << kernels_name(*table) << " type " << type_name(type));
  const TypeKernels& row = table->for_type(type);
  const TypeTraits& traits = type_traits(type);
  CHECK(row.activations == scalar_kernels().for_type(type).activations);
  CHECK((row.activations == ActivationBlocks::none) == !traits.is_quantized);
  if (traits.row_group > 1) {
    CHECK(row.group_dot != nullptr);
    CHECK(row.deinterleave != nullptr);
  } else if (traits.is_quantized) {
    CHECK(row.dot != nullptr);
  } else {
    CHECK(row.dot_rows != nullptr);
  }
  if (traits.row_group == 1) {  // interleaved types decode as their rows' type (row_type)
    CHECK(row.to_f32 != nullptr);
    CHECK(row.to_bf16 != nullptr);
    CHECK(row.quantize_row != nullptr);
  }
}

TEST_CASE("the scalar rows' products are those of the decoded weights", "[kernels][rows]") {
  const TensorType type = GENERATE(from_range(weight_types()));
  INFO("type " << type_name(type));
  const TypeKernels& row = scalar_kernels().for_type(type);
  const StoredRows w = stored_rows(type);
  const std::vector<float> x = smoe::test::normal_values(kColumns, 1.0f, 32);
  const std::vector<float> products = row_products(row, type, w, activations_for(row, x));
  for (size_t r = 0; r < kRows; ++r) {
    double exact = 0, magnitude = 0;
    for (size_t i = 0; i < kColumns; ++i) {
      exact += double(w.decoded[r * kColumns + i]) * x[i];
      magnitude += std::fabs(double(w.decoded[r * kColumns + i]) * x[i]);
    }
    INFO("row " << r);
    // 8-bit activations: well within 1% of the sum of magnitudes; f32 ones: rounding only.
    CHECK(std::fabs(products[r] - exact) <= (row.activations == ActivationBlocks::none ? 1e-5 : 1e-2) * magnitude);
  }
}

TEST_CASE("every table's row gives its scalar row's results", "[kernels][rows]") {
  const Kernels* table = GENERATE(from_range(available_kernels()));
  const TensorType type = GENERATE(from_range(weight_types()));
  INFO("kernels " << kernels_name(*table) << " type " << type_name(type));
  const TypeKernels& row = table->for_type(type);
  const TypeKernels& reference = scalar_kernels().for_type(type);
  const StoredRows w = stored_rows(type);

  // Products, with each token's activations as the reference quantizes them.
  constexpr size_t kTokens = 3;
  std::vector<std::vector<std::byte>> activations;
  for (size_t t = 0; t < kTokens; ++t) {
    const std::vector<float> x = smoe::test::adversarial_activations(kColumns, int(t), 33 + uint32_t(t));
    activations.push_back(activations_for(reference, x));
    const std::vector<float> expected = row_products(reference, type, w, activations.back());
    const std::vector<float> actual = row_products(row, type, w, activations.back());
    for (size_t r = 0; r < kRows; ++r) {
      double magnitude = 0;
      for (size_t i = 0; i < kColumns; ++i) magnitude += std::fabs(double(w.decoded[r * kColumns + i]) * x[i]);
      INFO("token " << t << " row " << r);
      CHECK(actual[r] == Approx(expected[r]).margin(kOrderTolerance * (magnitude + 1e-30)));
    }
  }
  // Several tokens at once: each token's sums exactly as the one-token kernel gives them.
  if (row.group_tokens_dot != nullptr) {
    std::vector<const void*> pointers;
    for (const std::vector<std::byte>& a : activations) pointers.push_back(a.data());
    std::vector<float> together(kRows * kTokens);
    row.group_tokens_dot(w.bytes.data(), pointers.data(), kTokens, kColumns, together.data());
    for (size_t t = 0; t < kTokens; ++t) {
      float alone[kRows];
      row.group_dot(w.bytes.data(), activations[t].data(), kColumns, alone);
      INFO("token " << t);
      CHECK(std::memcmp(alone, &together[kRows * t], sizeof(alone)) == 0);
    }
  }
  // Interleaved groups back to their rows: the reference's bytes.
  if (row.deinterleave != nullptr) {
    const size_t row_size = *row_bytes(row_type(type), kColumns);
    std::vector<std::byte> expected(kRows * row_size), actual(kRows * row_size);
    void* expected_rows[kRows];
    void* actual_rows[kRows];
    for (size_t r = 0; r < kRows; ++r) {
      expected_rows[r] = &expected[r * row_size];
      actual_rows[r] = &actual[r * row_size];
    }
    reference.deinterleave(w.bytes.data(), expected_rows, kColumns);
    row.deinterleave(w.bytes.data(), actual_rows, kColumns);
    CHECK(actual == expected);
  }
  // Row decoders: the reference's bits.
  if (type_traits(type).row_group == 1) {
    const size_t row_size = *row_bytes(type, kColumns);
    for (size_t r = 0; r < kRows; ++r) {
      std::vector<float> expected(kColumns), actual(kColumns);
      reference.to_f32(&w.bytes[r * row_size], expected.data(), kColumns);
      row.to_f32(&w.bytes[r * row_size], actual.data(), kColumns);
      CHECK(std::memcmp(expected.data(), actual.data(), kColumns * sizeof(float)) == 0);
      std::vector<uint16_t> expected_bf16(kColumns), actual_bf16(kColumns);
      reference.to_bf16(&w.bytes[r * row_size], expected_bf16.data(), kColumns);
      row.to_bf16(&w.bytes[r * row_size], actual_bf16.data(), kColumns);
      CHECK(expected_bf16 == actual_bf16);
    }
  }
}
