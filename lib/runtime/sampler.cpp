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

  size_t keep = candidates_.size();
  if (options_.top_k > 0) keep = std::min(keep, size_t(options_.top_k));
  std::partial_sort(candidates_.begin(), candidates_.begin() + long(keep), candidates_.end(), by_logit);
  candidates_.resize(keep);

  // Probabilities at temperature 1 for the cut-offs, as llama.cpp does.
  std::vector<float> probabilities(keep);
  float sum = 0.0f;
  for (size_t i = 0; i < keep; ++i) sum += probabilities[i] = std::exp(candidates_[i].first - candidates_[0].first);
  for (float& p : probabilities) p /= sum;
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
    weights[i] = std::exp(double(candidates_[i].first - candidates_[0].first) / options_.temperature);
  }
  std::discrete_distribution<size_t> draw(weights.begin(), weights.end());
  return candidates_[draw(generator_)].second;
}

}  // namespace smoe
