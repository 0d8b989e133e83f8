// Sampling: greedy, determinism per seed, and each filter's effect on a known distribution.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "smoe/sampler.h"

using namespace smoe;

namespace {

std::vector<float> logits_of(const std::vector<double>& probabilities) {
  std::vector<float> logits;
  for (double p : probabilities) logits.push_back(float(std::log(p)));
  return logits;
}

std::set<int32_t> drawn(SamplerOptions options, const std::vector<float>& logits, int draws = 2000) {
  Sampler sampler(options);
  std::set<int32_t> seen;
  for (int i = 0; i < draws; ++i) seen.insert(sampler.sample(logits, {}));
  return seen;
}

}  // namespace

TEST_CASE("temperature 0 is greedy", "[sampler]") {
  SamplerOptions options;
  options.temperature = 0;
  Sampler sampler(options);
  CHECK(sampler.sample(std::vector<float>{0.1f, 2.0f, 1.9f}, {}) == 1);
}

TEST_CASE("the same seed gives the same tokens; another seed other tokens", "[sampler]") {
  const std::vector<float> logits = logits_of({0.2, 0.2, 0.2, 0.2, 0.2});
  SamplerOptions options;
  options.top_p = 1;
  options.min_p = 0;
  Sampler a(options), b(options);
  options.seed = 99;
  Sampler c(options);
  std::vector<int32_t> first, second, third;
  for (int i = 0; i < 50; ++i) {
    first.push_back(a.sample(logits, {}));
    second.push_back(b.sample(logits, {}));
    third.push_back(c.sample(logits, {}));
  }
  CHECK(first == second);
  CHECK(first != third);
}

TEST_CASE("top-k, top-p and min-p cut the candidates", "[sampler]") {
  const std::vector<float> logits = logits_of({0.5, 0.3, 0.15, 0.05});
  SamplerOptions options;
  options.temperature = 1;
  options.repeat_penalty = 1;
  options.top_p = 1;
  options.min_p = 0;
  options.top_k = 0;
  CHECK(drawn(options, logits) == std::set<int32_t>{0, 1, 2, 3});
  options.top_k = 2;
  CHECK(drawn(options, logits) == std::set<int32_t>{0, 1});
  options.top_k = 0;
  options.top_p = 0.75f;  // 0.5 + 0.3 reaches it
  CHECK(drawn(options, logits) == std::set<int32_t>{0, 1});
  options.top_p = 1;
  options.min_p = 0.2f;  // keeps p >= 0.1
  CHECK(drawn(options, logits) == std::set<int32_t>{0, 1, 2});
}

TEST_CASE("the repetition penalty demotes recent tokens", "[sampler]") {
  SamplerOptions options;
  options.temperature = 0;
  options.repeat_penalty = 2.0f;
  Sampler sampler(options);
  const std::vector<float> logits = {1.0f, 1.5f};
  const std::vector<int32_t> history = {1};
  CHECK(sampler.sample(logits, history) == 0);  // 1.5 / 2 < 1.0
}
