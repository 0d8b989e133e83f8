// Type table, size arithmetic with overflow, and recipe fallback for short rows.
#include <catch2/catch.hpp>

#include "convert/recipe.h"
#include "quant/formats/tensor_type.h"
#include "smoe/error.h"

using namespace smoe;
using quant::TensorType;

TEST_CASE("tensor_bytes multiplies shape by block geometry", "[types]") {
  const std::vector<uint64_t> shape = {256, 128};
  CHECK(quant::tensor_bytes(TensorType::f32, shape) == 256 * 128 * 4);
  CHECK(quant::tensor_bytes(TensorType::bf16, shape) == 256 * 128 * 2);
  CHECK(quant::tensor_bytes(TensorType::q8, shape) == 256 * 4 * 34);
  CHECK(quant::tensor_bytes(TensorType::q4, shape) == 256 * 4 * 20);
  CHECK(quant::bits_per_weight(TensorType::q8) == 8.5);
  CHECK(quant::bits_per_weight(TensorType::q4) == 5.0);
  CHECK(quant::bits_per_weight(TensorType::q4k) == 4.5);
  CHECK(quant::tensor_bytes(TensorType::q4k, std::vector<uint64_t>{2, 512}) == 2 * 2 * 144);
}

TEST_CASE("tensor_bytes refuses partial blocks and overflow", "[types]") {
  const std::vector<uint64_t> short_rows = {4, 100};
  CHECK_FALSE(quant::tensor_bytes(TensorType::q8, short_rows));
  CHECK(quant::tensor_bytes(TensorType::f16, short_rows) == 800);
  const std::vector<uint64_t> huge = {1ull << 40, 1ull << 30};
  CHECK_FALSE(quant::tensor_bytes(TensorType::f32, huge));
  const std::vector<uint64_t> huge_row = {1, ~0ull - 31};
  CHECK_FALSE(quant::tensor_bytes(TensorType::f32, huge_row));
}

TEST_CASE("unknown type ids are reported, not guessed", "[types]") {
  CHECK_FALSE(quant::type_traits(99u).has_value());
  CHECK(quant::parse_type_name("q4") == TensorType::q4);
  CHECK_FALSE(quant::parse_type_name("q3").has_value());
}

TEST_CASE("recipes: q4 keeps router and norms exact, falls back to f16 for short rows", "[recipe]") {
  convert::Recipe recipe = convert::make_recipe("q4");
  const format::TensorSpec expert{"layers.0.experts.0.w1", format::TensorGroup::experts, {256, 128}, 0, 0};
  const format::TensorSpec odd_expert{"layers.0.experts.0.w1", format::TensorGroup::experts, {256, 100}, 0, 0};
  const format::TensorSpec router{"layers.0.router", format::TensorGroup::router, {8, 128}, 0};
  const format::TensorSpec norm{"layers.0.attn_norm", format::TensorGroup::norms, {128}, 0};
  const format::TensorSpec attention{"layers.0.attn.q", format::TensorGroup::attention, {128, 128}, 0};
  const format::TensorSpec wide_expert{"layers.0.experts.0.w2", format::TensorGroup::experts, {128, 512}, 0, 0};
  CHECK(recipe.type_for(wide_expert) == TensorType::q4k);
  CHECK(recipe.type_for(expert) == TensorType::q4);  // rows of 128: q4k -> q4
  CHECK(recipe.type_for(odd_expert) == TensorType::f16);
  CHECK(recipe.type_for(router) == TensorType::f32);
  CHECK(recipe.type_for(norm) == TensorType::f32);
  CHECK(recipe.type_for(attention) == TensorType::q8);
  convert::override_group(recipe, "attn", "q4");
  CHECK(recipe.type_for(attention) == TensorType::q4);
  CHECK(recipe.to_json()["groups"]["attn"] == "q4");
  CHECK_THROWS_AS(convert::override_group(recipe, "norms", "q4"), Error);
  CHECK_THROWS_AS(convert::override_group(recipe, "mlp", "q4"), Error);
  CHECK_THROWS_AS(convert::make_recipe("q3"), Error);
  // The interleaved layouts are the converter's choice (--interleave), not a recipe's type.
  CHECK_THROWS_AS(convert::make_recipe("q8_x8"), Error);
  CHECK_THROWS_AS(convert::override_group(recipe, "attn", "q4k_x8"), Error);
}
