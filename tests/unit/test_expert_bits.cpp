// `--expert-bits auto`: the planner keeps the experts' total size, gives frequently routed
// experts at least as many bits as rarely routed ones, and leaves uniform routing uniform.
#include <catch2/catch.hpp>

#include "convert/expert_bits.h"
#include "quant/formats/tensor_type.h"
#include "smoe/error.h"
#include "support/small_moe_model.h"

using namespace smoe;
using quant::TensorType;

namespace {

// Routing counts: layer L routes count(L, e) tokens to expert e.
template <class Count>
convert::ImportanceMatrix routing(const Hyperparameters& hp, Count count) {
  convert::ImportanceMatrix matrix;
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    for (uint32_t expert = 0; expert < hp.num_local_experts; ++expert) {
      for (int i = 0; i < count(layer, expert); ++i) {
        matrix.add_count("routing." + std::to_string(layer), expert, hp.num_local_experts);
      }
    }
  }
  return matrix;
}

double bits(TensorType type) { return quant::bits_per_weight(type); }

}  // namespace

TEST_CASE("expert-bits auto gives hot experts more bits at the same total size", "[expert_bits][recipe]") {
  const Hyperparameters hp = test::small_moe_model();
  const auto specs = format::mixtral_tensor_specs(hp);
  // Expert e gets 2^e tokens: strongly skewed, as in real routers' tails.
  const convert::ImportanceMatrix matrix = routing(hp, [](uint32_t, uint32_t e) { return 1 << e; });
  convert::Recipe recipe = convert::make_recipe("q4");
  const convert::ExpertBitsSummary summary = convert::plan_expert_bits(specs, matrix, "test.imatrix", recipe);

  CHECK(summary.planned_bytes <= summary.uniform_bytes);
  CHECK(double(summary.planned_bytes) > double(summary.uniform_bytes) * 0.97);  // the budget is spent, not wasted
  CHECK(summary.planned_error < summary.uniform_error);
  REQUIRE(recipe.expert_types.size() == 16);
  for (int32_t layer = 0; layer < 2; ++layer) {
    for (int32_t expert = 1; expert < 8; ++expert) {
      CHECK(bits(recipe.expert_types.at({layer, expert})) >= bits(recipe.expert_types.at({layer, expert - 1})));
    }
    CHECK(recipe.expert_types.at({layer, 0}) == TensorType::q3k);
    CHECK(bits(recipe.expert_types.at({layer, 7})) > bits(TensorType::q4k));
  }
  // The choice reaches the tensors and the recipe written into the file.
  for (const format::TensorSpec& spec : specs) {
    if (spec.group == format::TensorGroup::experts && spec.expert == 0) CHECK(recipe.type_for(spec) == TensorType::q3k);
  }
  CHECK(recipe.to_json()["expert_types"][1][0] == "q3k");
}

TEST_CASE("expert-bits auto leaves evenly routed experts in the uniform type", "[expert_bits][recipe]") {
  const Hyperparameters hp = test::small_moe_model();
  const convert::ImportanceMatrix matrix = routing(hp, [](uint32_t, uint32_t) { return 100; });
  convert::Recipe recipe = convert::make_recipe("q4");
  const auto summary = convert::plan_expert_bits(format::mixtral_tensor_specs(hp), matrix, "test.imatrix", recipe);
  for (const auto& [id, type] : recipe.expert_types) CHECK(type == TensorType::q4k);
  CHECK(summary.planned_bytes == summary.uniform_bytes);
}

TEST_CASE("expert-bits auto refuses an importance matrix without matching routing counts", "[expert_bits][bad_input]") {
  const Hyperparameters hp = test::small_moe_model();
  convert::Recipe recipe = convert::make_recipe("q4");
  const auto specs = format::mixtral_tensor_specs(hp);
  CHECK_THROWS_WITH(convert::plan_expert_bits(specs, convert::ImportanceMatrix{}, "calib.imatrix", recipe),
                    Catch::Contains("calib.imatrix") && Catch::Contains("no routing counts for layer 0"));
  Hyperparameters fewer = hp;
  fewer.num_local_experts = 4;
  const convert::ImportanceMatrix four = routing(fewer, [](uint32_t, uint32_t) { return 1; });
  CHECK_THROWS_WITH(convert::plan_expert_bits(specs, four, "calib.imatrix", recipe),
                    Catch::Contains("list 4 experts, the model has 8"));
}
