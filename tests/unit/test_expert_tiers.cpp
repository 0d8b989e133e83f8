// `--expert-bits ram=SIZE`: the planner keeps exactly the experts the runtime's expert cache
// will hold at the recipe's type or more and puts the rest in q3k; it gives the plain auto plan
// when everything fits and all q3k when nothing does; bad sizes are refused; and a converted
// tiny model with the target loads with the slots the plan counted and computes the same
// outputs through the expert cache as read whole into memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "backend/expert_cache.h"
#include "convert/convert_checkpoint.h"
#include "convert/expert_tiers.h"
#include "format/container.h"
#include "quant/formats/tensor_type.h"
#include "runtime/weight_placement.h"
#include "smoe/error.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"
#include "support/small_moe_model.h"
#include "support/temp_dir.h"

using namespace smoe;
using quant::TensorType;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Distinct, skewed routing counts: layer L sends 10 + (e + 1)^2 x (L + 1) tokens to expert e.
convert::ImportanceMatrix skewed_routing(const Hyperparameters& hp) {
  convert::ImportanceMatrix matrix;
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    for (uint32_t expert = 0; expert < hp.num_local_experts; ++expert) {
      for (uint32_t i = 0; i < 10 + (expert + 1) * (expert + 1) * (layer + 1); ++i) {
        matrix.add_count("routing." + std::to_string(layer), expert, hp.num_local_experts);
      }
    }
  }
  return matrix;
}

// (layer, expert) hottest first by routing fraction within the layer, ties in key order.
std::vector<std::pair<int32_t, int32_t>> hottest_first(const Hyperparameters& hp) {
  std::vector<std::pair<int32_t, int32_t>> keys;
  std::vector<double> fraction;
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    double total = 0;
    for (uint32_t e = 0; e < hp.num_local_experts; ++e) total += 10 + (e + 1) * (e + 1) * (layer + 1);
    for (uint32_t e = 0; e < hp.num_local_experts; ++e) {
      keys.push_back({int32_t(layer), int32_t(e)});
      fraction.push_back((10 + (e + 1) * (e + 1) * (layer + 1)) / total);
    }
  }
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return fraction[a] > fraction[b]; });
  std::vector<std::pair<int32_t, int32_t>> sorted;
  for (size_t i : order) sorted.push_back(keys[i]);
  return sorted;
}

// The largest expert range of the planned recipe (w1, w3 each padded to 64 bytes, then w2).
uint64_t largest_range(const std::vector<format::TensorSpec>& specs, const convert::Recipe& recipe) {
  std::map<std::pair<int32_t, int32_t>, uint64_t> ranges;
  for (const format::TensorSpec& spec : specs) {
    if (spec.group != format::TensorGroup::experts) continue;
    uint64_t& range = ranges[{spec.layer, spec.expert}];
    range = (range + 63) / 64 * 64 + *quant::tensor_bytes(recipe.type_for(spec), spec.shape);
  }
  uint64_t largest = 0;
  for (const auto& [id, range] : ranges) largest = std::max(largest, range);
  return largest;
}

double bits(TensorType type) { return quant::bits_per_weight(type); }

}  // namespace

TEST_CASE("expert-bits ram keeps the experts the cache holds at q4k or more and the rest in q3k",
          "[expert_bits][expert_tiers]") {
  // Experts of 1.5M weights: every type's range rounds up to one 2 MiB slot, so the budget
  // holds the same number of slots whatever the hot experts' types.
  const Hyperparameters hp = test::small_moe_model(512, 1024);
  const auto specs = format::mixtral_tensor_specs(hp);
  const convert::ImportanceMatrix matrix = skewed_routing(hp);
  const uint32_t slots = GENERATE(1u, 5u, 11u);
  CAPTURE(slots);
  const convert::ExpertTierBudget budget{
      .ram_bytes = kExpertCacheReserve + 50 * kMiB + 4 * kMiB + slots * 2 * kMiB + kMiB,
      .non_expert_bytes = 50 * kMiB,
      .kv_cache_bytes = 4 * kMiB};
  convert::Recipe recipe = convert::make_recipe("q4");
  const convert::ExpertTiersSummary tiers =
      convert::plan_expert_tiers(specs, matrix, "test.imatrix", budget, "ram=test", recipe);

  CHECK(tiers.hot_experts == slots);
  CHECK(tiers.slots == slots);
  CHECK(tiers.slot_bytes == 2 * kMiB);
  CHECK(tiers.experts == 16);
  const auto order = hottest_first(hp);
  for (size_t rank = 0; rank < order.size(); ++rank) {
    CAPTURE(rank, order[rank].first, order[rank].second);
    const TensorType type = recipe.expert_types.at(order[rank]);
    if (rank < slots) {
      CHECK(bits(type) >= bits(TensorType::q4k));
    } else {
      CHECK(type == TensorType::q3k);
    }
  }
  // What the cold experts save pays for the hot ones' upgrades: at most the uniform bytes.
  CHECK(tiers.bits.planned_bytes <= tiers.bits.uniform_bytes);
  CHECK(recipe.to_json()["expert_bits"] == "ram=test");
}

TEST_CASE("expert-bits ram counts the slots of the planned types' largest range", "[expert_bits][expert_tiers]") {
  // Experts of 6.3M weights: q4k ranges take 4 MiB slots, q6k 6 MiB, q8 8 MiB, so bigger hot
  // types mean fewer slots; whichever cap wins, the hot experts are exactly the slots the
  // runtime's arithmetic gives the planned file.
  const Hyperparameters hp = test::small_moe_model(1024, 2048);
  const auto specs = format::mixtral_tensor_specs(hp);
  const convert::ImportanceMatrix matrix = skewed_routing(hp);
  const uint64_t expert_memory = GENERATE(uint64_t{24}, uint64_t{40}, uint64_t{49});
  CAPTURE(expert_memory);
  const convert::ExpertTierBudget budget{.ram_bytes = kExpertCacheReserve + 20 * kMiB + expert_memory * kMiB,
                                         .non_expert_bytes = 20 * kMiB,
                                         .kv_cache_bytes = 0};
  convert::Recipe recipe = convert::make_recipe("q4");
  const convert::ExpertTiersSummary tiers =
      convert::plan_expert_tiers(specs, matrix, "test.imatrix", budget, "ram=test", recipe);
  const uint64_t slot = backend::ExpertCache::slot_bytes(largest_range(specs, recipe));
  CHECK(tiers.slot_bytes == slot);
  const uint32_t expected = expert_slots_that_fit(budget.ram_bytes, {.non_expert_bytes = budget.non_expert_bytes,
                                                                     .expert_slot_bytes = slot,
                                                                     .kv_cache_bytes = budget.kv_cache_bytes,
                                                                     .experts = 16});
  CHECK(tiers.hot_experts == expected);
  CHECK(tiers.slots == expected);
  CHECK(expected >= expert_memory / 8);  // at least as many as the largest slots would give
  const auto order = hottest_first(hp);
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const TensorType type = recipe.expert_types.at(order[rank]);
    if (rank < expected) {
      CHECK(bits(type) >= bits(TensorType::q4k));
    } else {
      CHECK(type == TensorType::q3k);
    }
  }
}

TEST_CASE("expert-bits ram gives the plain auto plan when everything fits, all q3k when nothing does",
          "[expert_bits][expert_tiers]") {
  const Hyperparameters hp = test::small_moe_model(512, 1024);
  const auto specs = format::mixtral_tensor_specs(hp);
  const convert::ImportanceMatrix matrix = skewed_routing(hp);
  convert::Recipe automatic = convert::make_recipe("q4");
  convert::plan_expert_bits(specs, matrix, "test.imatrix", automatic);

  convert::Recipe roomy = convert::make_recipe("q4");
  const auto everything = convert::plan_expert_tiers(
      specs, matrix, "test.imatrix", {.ram_bytes = uint64_t{1} << 40, .non_expert_bytes = 50 * kMiB}, "ram=1T", roomy);
  CHECK(roomy.expert_types == automatic.expert_types);
  CHECK(everything.hot_experts == 16);
  CHECK(everything.slots == 16);

  convert::Recipe tight = convert::make_recipe("q4");
  const auto nothing = convert::plan_expert_tiers(
      specs, matrix, "test.imatrix", {.ram_bytes = 100 * kMiB, .non_expert_bytes = 50 * kMiB}, "ram=100M", tight);
  CHECK(nothing.hot_experts == 0);
  CHECK(nothing.slots == 0);
  REQUIRE(tight.expert_types.size() == 16);
  for (const auto& [id, type] : tight.expert_types) CHECK(type == TensorType::q3k);
}

TEST_CASE("expert-bits reads ram=SIZE as --ram does and refuses bad sizes by name", "[expert_bits][bad_input]") {
  using Kind = convert::ExpertBitsTarget::Kind;
  CHECK(convert::parse_expert_bits("auto").kind == Kind::automatic);
  CHECK(convert::parse_expert_bits("uniform").kind == Kind::uniform);
  const convert::ExpertBitsTarget twelve = convert::parse_expert_bits("ram=12G");
  CHECK(twelve.kind == Kind::ram);
  CHECK(twelve.ram_bytes == uint64_t{12} << 30);
  CHECK(twelve.spelling == "ram=12G");
  CHECK(convert::parse_expert_bits("ram=300M").ram_bytes == 300 * kMiB);
  CHECK(convert::parse_expert_bits("ram=64GiB").ram_bytes == uint64_t{64} << 30);
  CHECK(convert::parse_expert_bits("ram=123456").ram_bytes == 123456);
  for (const std::string bad : {"ram=", "ram=12Q", "ram=-1G", "ram=lots", "ram=1.5G"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(convert::parse_expert_bits(bad),
                      Catch::Contains("--expert-bits") && Catch::Contains("is not a memory size"));
  }
  CHECK_THROWS_WITH(convert::parse_expert_bits("ram=0"), Catch::Contains("more than 0 bytes"));
  CHECK_THROWS_WITH(convert::parse_expert_bits("fast"),
                    Catch::Contains("--expert-bits") && Catch::Contains("none of uniform, auto, ram=SIZE"));
}

TEST_CASE("a tiny model converted for a memory budget loads with the planned slots and the resident outputs",
          "[expert_bits][expert_tiers][expert_cache]") {
  const Hyperparameters hp = format::Container::open(test::tiny_container("f32")).metadata().hyperparameters;
  test::TempDir dir;
  convert::ConvertOptions options;
  options.input = test::tiny_model_dir();
  options.output = dir.file("tiny-tiers.smoe");
  options.recipe = convert::make_recipe("q4");
  options.hash_sources = false;
  options.importance = std::make_shared<convert::ImportanceMatrix>(skewed_routing(hp));
  options.calibration = "test counts";
  // The tiny model's experts are 2 MiB slots each: 8 MiB beside its few MiB of other weights
  // and KV cache hold a handful of its 32 experts.
  options.expert_bits = convert::parse_expert_bits("ram=" + std::to_string(kExpertCacheReserve + 14 * kMiB));
  const convert::ConvertReport report = convert::convert_checkpoint(options);
  REQUIRE(report.expert_tiers);
  const convert::ExpertTiersSummary& tiers = *report.expert_tiers;
  CHECK(tiers.hot_experts > 0);
  CHECK(tiers.hot_experts < 32);
  CHECK(tiers.slots == tiers.hot_experts);
  CHECK(report.expert_bits->experts_per_type.at("q3k") >= 32 - tiers.hot_experts);

  const format::Container container = format::Container::open(options.output);
  const nlohmann::json& recipe = container.metadata().recipe;
  CHECK(recipe.at("expert_bits") == options.expert_bits.spelling);
  CHECK(recipe.at("expert_tiers").at("hot_experts") == tiers.hot_experts);
  CHECK(recipe.at("expert_tiers").at("non_expert_bytes") == container.non_expert_bytes());
  CHECK(recipe.at("expert_tiers").at("slot_bytes") == backend::ExpertCache::slot_bytes(container));

  // The runtime, given the same budget, counts the same slots.
  ModelOptions budgeted;
  budgeted.threads = 1;
  budgeted.ram_budget = options.expert_bits.ram_bytes;
  budgeted.weight_loading = WeightLoading::expert_cache;
  CHECK(Model::load(options.output, budgeted)->info().expert_cache_slots == tiers.slots);

  // Every mix of types computes the same through the cache as read whole into memory.
  const auto load = [&](WeightLoading loading, uint32_t slots) {
    ModelOptions model_options;
    model_options.threads = 1;
    model_options.context_size = 256;
    model_options.weight_loading = loading;
    model_options.expert_cache_slots = slots;
    return Model::load(options.output, model_options);
  };
  const auto resident = load(WeightLoading::read, 0);
  const auto cached = load(WeightLoading::expert_cache, 3);
  REQUIRE(cached->info().expert_cache_slots == 3);
  for (const nlohmann::json& prompt : test::tiny_reference().json["prompts"]) {
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    auto first = resident->create_session(), second = cached->create_session();
    const std::span<const float> a = first->eval_all(ids), b = second->eval_all(ids);
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}
