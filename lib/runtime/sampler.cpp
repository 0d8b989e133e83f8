// Sampling pipeline, in llama.cpp's order: repetition penalty, then greedy or
// top-k -> top-p -> min-p -> temperature -> draw.
#include "smoe/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace smoe {

Sampler::Sampler(const SamplerOptions& options) : options_(options), generator_(options.seed) {}

void Sampler::reseed(uint64_t seed) { generator_.seed(seed); }

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_[i] = {logits[i], static_cast<int32_t>(i)};

  if (options_.repeat_penalty != 1.0f && options_.repeat_last_n > 0) {
    const size_t window = std::min(history.size(), size_t(options_.repeat_last_n));
    const std::unordered_set<int32_t> recent(history.end() - long(window), history.end());
    for (int32_t token : recent) {
      if (token < 0 || size_t(token) >= candidates_.size()) continue;
      float& logit = candidates_[size_t(token)].first;
      logit = logit > 0 ? logit / options_.repeat_penalty : logit * options_.repeat_penalty;
    }
  }
  const auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  if (options_.temperature <= 0.0f) return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->second;

  // Probabilities at temperature 1 for the cut-offs, as llama.cpp does, normalised over the
  // candidates top-k leaves (all of them without top-k).
  size_t keep = candidates_.size();
  double total = 0;
  float top_logit = 0;
  if (options_.top_k > 0 && size_t(options_.top_k) < keep) {
    keep = size_t(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + long(keep), candidates_.end(), by_logit);
    top_logit = candidates_[0].first;
    for (size_t i = 0; i < keep; ++i) total += std::exp(double(candidates_[i].first - top_logit));
  } else {
    // Without top-k only the head of the order is needed: the tokens min-p keeps, or a prefix
    // holding top-p's mass. Sorting the whole vocabulary (32000 and more) cost more than
    // evaluating a small model: the candidates above a threshold go first and are sorted, the
    // threshold lowered until they hold the mass top-p needs (the nucleus is then among them).
    top_logit = std::min_element(candidates_.begin(), candidates_.end(), by_logit)->first;  // the largest
    for (const auto& candidate : candidates_) total += std::exp(double(candidate.first - top_logit));
    const bool all_needed = options_.top_p >= 1.0f && options_.min_p <= 0.0f;
    for (const double relative : {1e-4, 1e-9, 0.0}) {
      const double floor = std::max(relative, double(options_.min_p));
      if (all_needed || floor <= 0) break;  // everything: sorted below
      // A little under the floor: min-p's own test below makes the exact cut.
      const float threshold = top_logit + float(std::log(floor * 0.999));
      const auto end = std::partition(candidates_.begin(), candidates_.end(),
                                      [&](const auto& candidate) { return candidate.first >= threshold; });
      double mass = 0;
      for (auto it = candidates_.begin(); it != end; ++it) mass += std::exp(double(it->first - top_logit));
      // min-p drops whatever is under its floor; otherwise the prefix must reach top-p's mass.
      if (floor == double(options_.min_p) || mass >= double(options_.top_p) * total * (1 + 1e-4)) {
        keep = size_t(end - candidates_.begin());
        break;
      }
    }
    // Every candidate kept (plain sampling): the draw does not need them in order.
    if (!all_needed) std::sort(candidates_.begin(), candidates_.begin() + long(keep), by_logit);
  }
  candidates_.resize(keep);
  std::vector<float> probabilities(keep);
  for (size_t i = 0; i < keep; ++i) probabilities[i] = float(std::exp(double(candidates_[i].first - top_logit)) / total);
  if (options_.top_p < 1.0f) {
    float cumulative = 0.0f;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probabilities[i];
      if (cumulative >= options_.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
  }
  if (options_.min_p > 0.0f) {
    size_t cut = 1;
    while (cut < keep && probabilities[cut] >= options_.min_p * probabilities[0]) ++cut;
    keep = cut;
  }
  std::vector<double> weights(keep);
  for (size_t i = 0; i < keep; ++i) {
    weights[i] = std::exp(double(candidates_[i].first - top_logit) / options_.temperature);
  }
  std::discrete_distribution<size_t> draw(weights.begin(), weights.end());
  return candidates_[draw(generator_)].second;
}

}  // namespace smoe
