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
  // candidates top-k leaves (all of them without top-k). exp(logit - top) is taken once per
  // token (`relative_by_token`) and reused by every pass below. (Per thread, not a member:
  // a member would change the class's size, which applications compiled against it hold.)
  thread_local std::vector<double> relative_by_token;
  size_t keep = candidates_.size();
  double total = 0;
  float top_logit = 0;
  relative_by_token.resize(candidates_.size());
  const auto relative = [&](const std::pair<float, int32_t>& candidate) {
    return relative_by_token[size_t(candidate.second)];
  };
  // The order is needed only as far as the cut-offs read it: [0, sorted) is in order, and the
  // rest of the kept candidates all come after it. by_logit is a total order (for logits that
  // are not NaN), so sorting in pieces gives the order a sort of all of them would.
  size_t sorted = 0;
  const auto sort_through = [&](size_t count) {
    if (count <= sorted) return;
    const size_t end = std::min(keep, std::max({count, 2 * sorted, size_t{64}}));
    const auto first = candidates_.begin() + long(sorted), last = candidates_.begin() + long(end);
    if (end < keep) std::nth_element(first, last, candidates_.begin() + long(keep), by_logit);
    std::sort(first, last, by_logit);
    sorted = end;
  };
  if (options_.top_k > 0 && size_t(options_.top_k) < keep) {
    keep = size_t(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + long(keep), candidates_.end(), by_logit);
    sorted = keep;
    top_logit = candidates_[0].first;
    for (size_t i = 0; i < keep; ++i) {
      relative_by_token[size_t(candidates_[i].second)] = std::exp(double(candidates_[i].first - top_logit));
      total += relative(candidates_[i]);
    }
  } else {
    // Without top-k only the head of the order is needed: the tokens min-p keeps, or a prefix
    // holding top-p's mass. Sorting the whole vocabulary (32000 and more) cost more than
    // evaluating a small model: the candidates above a threshold go first, the threshold
    // lowered until they hold the mass top-p needs (the nucleus is then among them), and they
    // are put in order only as far as the cut-offs read.
    top_logit = std::min_element(candidates_.begin(), candidates_.end(), by_logit)->first;  // the largest
    for (const auto& candidate : candidates_) {
      relative_by_token[size_t(candidate.second)] = std::exp(double(candidate.first - top_logit));
      total += relative(candidate);
    }
    const bool all_needed = options_.top_p >= 1.0f && options_.min_p <= 0.0f;
    for (const double floor_relative : {1e-4, 1e-9, 0.0}) {
      const double floor = std::max(floor_relative, double(options_.min_p));
      if (all_needed || floor <= 0) break;  // everything
      // A little under the floor: min-p's own test below makes the exact cut.
      const float threshold = top_logit + float(std::log(floor * 0.999));
      const auto end = std::partition(candidates_.begin(), candidates_.end(),
                                      [&](const auto& candidate) { return candidate.first >= threshold; });
      double mass = 0;
      for (auto it = candidates_.begin(); it != end; ++it) mass += relative(*it);
      // min-p drops whatever is under its floor; otherwise the prefix must reach top-p's mass.
      if (floor == double(options_.min_p) || mass >= double(options_.top_p) * total * (1 + 1e-4)) {
        keep = size_t(end - candidates_.begin());
        break;
      }
    }
    // Every candidate kept (plain sampling): the draw does not need them in order.
    if (all_needed) sorted = keep;
  }
  const auto probability = [&](size_t i) {
    sort_through(i + 1);
    return float(relative(candidates_[i]) / total);
  };
  if (options_.top_p < 1.0f) {
    float cumulative = 0.0f;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probability(i);
      if (cumulative >= options_.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
  }
  if (options_.min_p > 0.0f) {
    const float top_probability = probability(0);
    size_t cut = 1;
    while (cut < keep && probability(cut) >= options_.min_p * top_probability) ++cut;
    keep = cut;
  }
  sort_through(keep);
  std::vector<double> weights(keep);
  for (size_t i = 0; i < keep; ++i) {
    // exp(x / 1) is exp(x): the temperature-1 weights are the values already taken.
    weights[i] = options_.temperature == 1.0f ? relative(candidates_[i])
                                               : std::exp(double(candidates_[i].first - top_logit) / options_.temperature);
  }
  std::discrete_distribution<size_t> draw(weights.begin(), weights.end());
  return candidates_[draw(generator_)].second;
}

}  // namespace smoe
