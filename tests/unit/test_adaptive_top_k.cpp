// ModelOptions::moe_min_weight (adaptive top-k): chosen experts after the first whose routing
// weight is below the threshold are skipped, counted, and left out of the routing reports.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "smoe/error.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"

using namespace smoe;

namespace {

struct Run {
  std::vector<float> logits;
  std::vector<size_t> experts_per_report;  // how many experts each routing report named
  RunStats stats;
};

Run evaluate(float min_weight) {
  ModelOptions options;
  options.context_size = 256;
  options.moe_min_weight = min_weight;
  const auto model = Model::load(test::tiny_container("f32"), options);
  auto session = model->create_session();
  Run run;
  session->set_routing_callback([&](uint32_t, uint32_t, std::span<const uint32_t> experts) {
    run.experts_per_report.push_back(experts.size());
  });
  const auto& prompt = test::tiny_reference().json["prompts"][0]["ids"];
  const std::span<const float> logits = session->eval_all(prompt.get<std::vector<int32_t>>());
  run.logits.assign(logits.begin(), logits.end());
  run.stats = session->stats();
  return run;
}

uint64_t sum(const std::vector<uint64_t>& counts) {
  uint64_t total = 0;
  for (const uint64_t count : counts) total += count;
  return total;
}

}  // namespace

TEST_CASE("adaptive top-k: off changes nothing, and every choice is either run or skipped", "[runtime][moe]") {
  const Run all = evaluate(0.0f), some = evaluate(0.2f), one = evaluate(0.5f);
  const size_t reports = all.experts_per_report.size();  // layers x tokens
  REQUIRE(reports > 0);
  const size_t top_k = all.experts_per_report.front();
  REQUIRE(top_k == 2);
  CHECK(all.stats.skipped_experts == 0);
  CHECK(sum(all.stats.expert_counts) == reports * top_k);
  // A second weight is at most 0.5: at 0.5 only the first expert of each choice runs.
  CHECK(one.stats.skipped_experts == reports);
  for (const size_t count : one.experts_per_report) CHECK(count == 1);
  // In between, some are skipped; runs and skips add up to the choices, as the reports say.
  CHECK(some.stats.skipped_experts > 0);
  CHECK(some.stats.skipped_experts < reports);
  CHECK(sum(some.stats.expert_counts) + some.stats.skipped_experts == reports * top_k);
  size_t reported = 0;
  for (const size_t count : some.experts_per_report) reported += count;
  CHECK(reported == sum(some.stats.expert_counts));
  // Fewer experts change the logits, more so the more are skipped.
  double some_difference = 0, one_difference = 0;
  for (size_t i = 0; i < all.logits.size(); ++i) {
    some_difference += std::fabs(double(some.logits[i]) - all.logits[i]);
    one_difference += std::fabs(double(one.logits[i]) - all.logits[i]);
  }
  CHECK(some_difference > 0);
  CHECK(one_difference > some_difference);
  // A threshold below every second weight skips nothing: the same logits, bit for bit.
  CHECK(evaluate(1e-30f).logits == all.logits);
}

TEST_CASE("adaptive top-k thresholds below 0, at 1 or above are refused naming the file", "[runtime][moe]") {
  const std::string path = test::tiny_container("f32");
  for (const float bad : {-0.1f, 1.0f, std::numeric_limits<float>::quiet_NaN()}) {
    ModelOptions options;
    options.moe_min_weight = bad;
    CHECK_THROWS_WITH(Model::load(path, options), Catch::Contains(path) && Catch::Contains("moe_min_weight"));
  }
}
