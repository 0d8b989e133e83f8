// Experts in tiers under one ranking, VRAM -> RAM -> disk: the device tier (the reference
// plugin, tests/plugin) over an expert cache of a few slots computes what the model read whole
// into memory does, reads its uploads through the cache's slots, and the slots never keep the
// experts the device serves; the RAM tier frees and evicts those first; and the one ranking
// both tiers place by.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <thread>

#include "backend/expert_cache.h"
#include "backend/expert_ranking.h"
#include "format/container.h"
#include "model/routing_statistics.h"
#include "runtime/model_impl.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"
#include "support/scoped_environment.h"

using namespace smoe;

namespace {

constexpr uint64_t kExpertBytes = 3 * 128 * 256 * 4;  // one f32 expert of the tiny model

std::shared_ptr<const Model> load(WeightLoading loading, uint32_t slots, uint64_t gpu_memory) {
  ModelOptions options;
  options.context_size = 256;
  options.threads = 1;
  options.kv_type = KvType::f32;
  options.weight_loading = loading;
  options.expert_cache_slots = slots;
  options.backend = "reference";
  options.gpu_memory = gpu_memory;
  return Model::load(test::tiny_container("f32"), options);
}

// Experts the device serves that also hold a slot of the expert cache.
int doubly_held(const Model& model) {
  const Model::Impl& impl = ModelInternals::of(model);
  const Hyperparameters& hp = model.info().hyperparameters;
  int count = 0;
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    for (uint32_t e = 0; e < hp.num_local_experts; ++e) {
      count += impl.offload->resident(layer, e) && impl.expert_cache->holds(layer, e);
    }
  }
  return count;
}

}  // namespace

TEST_CASE("tiers: a device over an expert cache of three slots computes the resident CPU's logits",
          "[backend][plugin][expert_cache][tiers]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  const auto cpu = load(WeightLoading::read, 0, 0);
  const auto tiered = load(WeightLoading::expert_cache, 3, kExpertBytes * 10);  // 10 of the 32 experts on the device
  REQUIRE(tiered->info().weight_loading == WeightLoading::expert_cache);
  REQUIRE(tiered->info().expert_cache_slots == 3);
  REQUIRE(tiered->info().offloaded_experts == 10);
  const Model::Impl& impl = ModelInternals::of(*tiered);
  // The uploads were read through the slots (no step has asked for an expert yet), and the
  // slots they used were freed for the CPU's experts.
  const ExpertCacheStats loaded = tiered->expert_cache_stats();
  CHECK(loaded.chosen == 0);
  CHECK(loaded.bytes_read >= 10 * kExpertBytes);
  CHECK(doubly_held(*tiered) == 0);

  for (const nlohmann::json& prompt : test::tiny_reference().json["prompts"]) {
    const std::vector<int32_t> ids = prompt["ids"].get<std::vector<int32_t>>();
    auto expected = cpu->create_session(), got = tiered->create_session();
    const std::span<const float> a = expected->eval_all(ids), b = got->eval_all(ids);
    REQUIRE(a.size() == b.size());
    float worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    CHECK(worst <= 1e-3f);  // the reference backend sums in another order
    CHECK(doubly_held(*tiered) == 0);  // after the step and its re-placement
  }
  GenerateOptions greedy;
  greedy.max_tokens = 16;
  greedy.sampler.temperature = 0;
  greedy.stop_at_eos = false;
  const std::vector<int32_t> ids = test::tiny_reference().json["prompts"][0]["ids"].get<std::vector<int32_t>>();
  CHECK(tiered->create_session()->generate(ids, greedy, nullptr).tokens ==
        cpu->create_session()->generate(ids, greedy, nullptr).tokens);
  CHECK(doubly_held(*tiered) == 0);
  // Both tiers served experts: the device its residents, the slots the CPU's.
  CHECK(impl.offload->hits() > 0);
  CHECK(impl.offload->misses() > 0);
  CHECK(tiered->expert_cache_stats().chosen > 0);
}

TEST_CASE("tiers: sessions on threads share a device and two slots without a hang",
          "[backend][plugin][expert_cache][tiers][threads]") {
  // Re-placement reads uploads through the slots while other sessions hold them: it must wait
  // for them without holding what they wait for.
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  const auto cpu = load(WeightLoading::read, 0, 0);
  const auto tiered = load(WeightLoading::expert_cache, 2, kExpertBytes * 6);
  const auto& prompts = test::tiny_reference().json["prompts"];
  constexpr size_t kThreads = 4;
  std::vector<std::vector<float>> expected(kThreads), got(kThreads);
  for (size_t i = 0; i < kThreads; ++i) {
    const auto ids = prompts[i % prompts.size()]["ids"].get<std::vector<int32_t>>();
    const auto session = cpu->create_session();  // the logits are the session's: it must outlive them
    const std::span<const float> logits = session->eval_all(ids);
    expected[i].assign(logits.begin(), logits.end());
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto session = tiered->create_session();
      const auto ids = prompts[i % prompts.size()]["ids"].get<std::vector<int32_t>>();
      for (const int32_t id : ids) session->eval(std::vector<int32_t>{id});  // a re-placement after each token
      const std::span<const float> logits = session->logits();
      got[i].assign(logits.begin(), logits.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < kThreads; ++i) {
    const size_t vocab = got[i].size();
    REQUIRE(expected[i].size() >= vocab);
    float worst = 0;
    for (size_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(got[i][v] - expected[i][expected[i].size() - vocab + v]));
    CHECK(worst <= 1e-3f);
  }
  CHECK(doubly_held(*tiered) == 0);
}

TEST_CASE("tiers: the expert cache frees, or evicts first, the slots of experts the device serves",
          "[expert_cache][tiers]") {
  const format::Container container = format::Container::open(test::tiny_container("f32"));
  const Hyperparameters& hp = container.metadata().hyperparameters;
  model::RoutingStatistics statistics(hp.num_hidden_layers, hp.num_local_experts);
  // Expert 0 the hottest, 1 the coldest of layer 0: `frequency` alone would evict expert 1.
  for (int i = 0; i < 10; ++i) statistics.record_use(0);
  statistics.record_use(1);
  backend::ExpertCache cache(container, 2, ExpertCachePolicy::frequency, false, statistics);

  cache.fetch(0, 0, false);
  cache.set_served_by_runner(0, 0, true);  // held by a step: stays until it is released
  CHECK(cache.holds(0, 0));
  cache.release(0, 0);
  cache.fetch(0, 1, false);
  cache.release(0, 1);
  cache.fetch(0, 2, false);  // both slots full: the served one goes, though it is the hottest
  cache.release(0, 2);
  CHECK_FALSE(cache.holds(0, 0));
  CHECK(cache.holds(0, 1));
  CHECK(cache.holds(0, 2));

  cache.set_served_by_runner(0, 1, true);  // nobody holds it: freed at once
  CHECK_FALSE(cache.holds(0, 1));
  cache.set_served_by_runner(0, 1, false);  // back on the CPU: read again when asked for
  cache.fetch(0, 1, false);
  cache.release(0, 1);
  CHECK(cache.holds(0, 1));
  CHECK(cache.holds(0, 2));
}

TEST_CASE("tiers: one ranking by count, recency and expert index; placement with hysteresis", "[tiers]") {
  model::RoutingStatistics statistics(2, 4);  // keys: layer * 4 + expert
  const backend::ExpertRanking ranking(statistics);
  // No routing yet: the same number of experts in every layer, lowest indices first.
  CHECK(ranking.hottest_first() == std::vector<size_t>{0, 4, 1, 5, 2, 6, 3, 7});

  statistics.record_step(0, std::vector<uint64_t>{0, 0, 0, 0});  // a tick with no choices
  statistics.seed(std::vector<double>{1, 0, 0, 0, 5, 0, 2, 0});
  statistics.record_use(3);  // key 3: one choice, as many as key 0's seeded count but recent
  const std::vector<size_t> order = ranking.hottest_first();
  REQUIRE(order.size() == 8);
  CHECK(std::vector<size_t>(order.begin(), order.begin() + 4) == std::vector<size_t>{4, 6, 3, 0});
  const std::vector<size_t> candidates = {0, 3, 4};
  CHECK(candidates[ranking.coldest(candidates)] == 0);  // equal counts: the less recent is colder

  const std::vector<uint64_t> bytes(8, 1);
  backend::TierPlan plan = ranking.plan(bytes, 2, std::vector<uint8_t>(8, 0), false);
  CHECK(plan.release.empty());
  CHECK(plan.upload == std::vector<size_t>{4, 6});
  // A resident within the hysteresis of the coldest planned stays; one far below leaves.
  std::vector<uint8_t> resident(8, 0);
  resident[0] = 1;  // count ~1 against key 6's ~2: leaves
  plan = ranking.plan(bytes, 2, resident, false);
  CHECK(plan.release == std::vector<size_t>{0});
  statistics.seed(std::vector<double>{1.9, 0, 0, 0, 5, 0, 2, 0});
  plan = ranking.plan(bytes, 2, resident, false);
  CHECK(plan.release.empty());  // 1.9 * 1.1 > 2
  CHECK(plan.upload == std::vector<size_t>{4, 6});
  // Never-chosen experts are placed only when asked to fill the budget.
  CHECK(ranking.plan(bytes, 8, std::vector<uint8_t>(8, 0), false).upload == std::vector<size_t>{4, 6, 0});
  CHECK(ranking.plan(bytes, 8, std::vector<uint8_t>(8, 0), true).upload.size() == 8);
}
