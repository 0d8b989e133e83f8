// Sampling: greedy, determinism per seed, and each filter's effect on a known distribution.
#include <catch2/catch.hpp>
#include <cmath>
#include <algorithm>
#include <map>
#include <random>
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

namespace {

// The whole pipeline written plainly (every candidate sorted by logit and token, each value
// computed where it is used): the tokens a draw chooses among and their weights, in order. The
// sampler orders only as much of the vocabulary as the cut-offs read; drawing from these with
// the same generator checks that it draws the same.
struct ReferenceDraw {
  std::vector<int32_t> tokens;
  std::vector<double> weights;
};

ReferenceDraw reference_candidates(const std::vector<float>& logits, const SamplerOptions& options) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  const auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const float top = *std::max_element(logits.begin(), logits.end());
  // Plain sampling (no cut-off) draws from the vocabulary in token order: no sort needed.
  const bool plain = options.top_k <= 0 && options.top_p >= 1.0f && options.min_p <= 0.0f;
  if (!plain) std::sort(order.begin(), order.end(), by_logit);
  size_t keep = order.size();
  double total = 0;
  if (options.top_k > 0 && size_t(options.top_k) < keep) {
    keep = size_t(options.top_k);
    for (size_t i = 0; i < keep; ++i) total += std::exp(double(logits[order[i]] - top));
  } else {
    for (float logit : logits) total += std::exp(double(logit - top));  // in token order
  }
  const auto probability = [&](size_t i) { return float(std::exp(double(logits[order[i]] - top)) / total); };
  if (options.top_p < 1.0f) {
    float cumulative = 0.0f;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probability(i);
      if (cumulative >= options.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (options.min_p > 0.0f) {
    size_t cut = 1;
    while (cut < keep && probability(cut) >= options.min_p * probability(0)) ++cut;
    keep = cut;
  }
  ReferenceDraw draw{{order.begin(), order.begin() + long(keep)}, std::vector<double>(keep)};
  for (size_t i = 0; i < keep; ++i) draw.weights[i] = std::exp(double(logits[order[i]] - top) / options.temperature);
  return draw;
}

// reference_candidates without top-k, as each kept token's probability at `temperature`.
std::map<int32_t, double> reference_kept(const std::vector<float>& logits, float top_p, float min_p, float temperature) {
  SamplerOptions options;
  options.top_k = 0;
  options.top_p = top_p;
  options.min_p = min_p;
  options.temperature = temperature;
  const ReferenceDraw draw = reference_candidates(logits, options);
  double sum = 0;
  for (const double weight : draw.weights) sum += weight;
  std::map<int32_t, double> kept;
  for (size_t i = 0; i < draw.tokens.size(); ++i) kept[draw.tokens[i]] = draw.weights[i] / sum;
  return kept;
}

}  // namespace

TEST_CASE("without top-k, a draw from thousands of tokens keeps the reference's tokens at their probabilities", "[sampler]") {
  std::mt19937 generator(5);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> peaked(8000);
  for (float& logit : peaked) logit = normal(generator);
  peaked[17] += 14;  // a few likely tokens (99% of the mass), then a long tail
  peaked[4242] += 13;
  peaked[7999] += 12;
  // One token at 85%, then 3999 equal ones each e^-10 of it: top-p 0.95 needs most of them.
  std::vector<float> flat_tail(4000, 0.0f);
  flat_tail[17] = 10;
  struct Case {
    float top_p, min_p;
  };
  for (const auto& logits : {peaked, flat_tail})
  for (const Case c : {Case{0.95f, 0.0f}, Case{0.5f, 0.0f}, Case{1.0f, 0.0f}, Case{0.95f, 0.05f}, Case{1.0f, 1e-3f}}) {
    CAPTURE(logits.size(), c.top_p, c.min_p);
    SamplerOptions options;
    options.top_k = 0;
    options.top_p = c.top_p;
    options.min_p = c.min_p;
    options.temperature = 0.9f;
    options.repeat_penalty = 1;
    const std::map<int32_t, double> kept = reference_kept(logits, c.top_p, c.min_p, options.temperature);
    Sampler sampler(options);
    std::map<int32_t, int> counts;
    constexpr int kDraws = 2000;
    for (int i = 0; i < kDraws; ++i) ++counts[sampler.sample(logits, {})];
    for (const auto& [token, count] : counts) {
      CAPTURE(token);
      CHECK(kept.count(token) == 1);
    }
    for (const int32_t token : {17, 4242, 7999}) {
      if (!kept.count(token)) continue;  // (flat_tail: only 17 is likely)
      const double p = kept.at(token), sigma = std::sqrt(p * (1 - p) / kDraws);
      CAPTURE(token, p);
      CHECK(std::abs(double(counts[token]) / kDraws - p) < 5 * sigma + 1e-4);
    }
  }
}

TEST_CASE("every draw is the one of a plainly written full-sort pipeline", "[sampler]") {
  std::mt19937 generator(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> peaked(32000), flat(32000), ties(5000);
  for (float& logit : peaked) logit = 3 * normal(generator);
  peaked[123] += 12;
  for (float& logit : flat) logit = 0.2f * normal(generator);  // top-p needs most of the vocabulary
  for (size_t i = 0; i < ties.size(); ++i) ties[i] = float(int(i % 7) - 3);  // many equal logits
  struct Case {
    int top_k;
    float top_p, min_p, temperature;
  };
  for (const auto* logits : {&peaked, &flat, &ties})
  for (const Case c : {Case{0, 0.95f, 0.0f, 1.0f}, Case{0, 0.5f, 0.0f, 0.8f}, Case{0, 0.999f, 0.0f, 1.0f},
                       Case{0, 1.0f, 0.05f, 1.0f}, Case{0, 0.9f, 0.01f, 1.3f}, Case{0, 1.0f, 0.0f, 1.0f},
                       Case{40, 0.9f, 0.0f, 1.0f}, Case{3000, 0.95f, 0.02f, 0.7f}}) {
    CAPTURE(logits->size(), c.top_k, c.top_p, c.min_p, c.temperature);
    SamplerOptions options;
    options.top_k = c.top_k;
    options.top_p = c.top_p;
    options.min_p = c.min_p;
    options.temperature = c.temperature;
    options.repeat_penalty = 1;
    options.seed = 77;
    Sampler sampler(options);
    std::mt19937_64 reference_generator(options.seed);
    const ReferenceDraw reference = reference_candidates(*logits, options);
    for (int i = 0; i < 50; ++i) {
      CAPTURE(i);
      std::discrete_distribution<size_t> draw(reference.weights.begin(), reference.weights.end());
      REQUIRE(sampler.sample(*logits, {}) == reference.tokens[draw(reference_generator)]);
    }
  }
}
