// Log-softmax based scores in double precision.
#include "token_scores.h"

#include <algorithm>
#include <cmath>

namespace smoe::bench {
namespace {

void log_softmax(const float* logits, size_t vocab, std::vector<double>& out) {
  out.resize(vocab);
  double max = logits[0];
  for (size_t v = 1; v < vocab; ++v) max = std::max(max, double(logits[v]));
  double sum = 0;
  for (size_t v = 0; v < vocab; ++v) sum += std::exp(double(logits[v]) - max);
  const double log_sum = std::log(sum) + max;
  for (size_t v = 0; v < vocab; ++v) out[v] = double(logits[v]) - log_sum;
}

}  // namespace

double negative_log_likelihood(const float* logits, size_t vocab, int32_t target) {
  double max = logits[0], sum = 0;
  for (size_t v = 1; v < vocab; ++v) max = std::max(max, double(logits[v]));
  for (size_t v = 0; v < vocab; ++v) sum += std::exp(double(logits[v]) - max);
  return std::log(sum) + max - logits[target];
}

void KlAccumulator::add(const float* base_logits, const float* test_logits, size_t vocab) {
  log_softmax(base_logits, vocab, base_log_probabilities_);
  log_softmax(test_logits, vocab, test_log_probabilities_);
  double kl = 0;
  for (size_t v = 0; v < vocab; ++v) {
    kl += std::exp(base_log_probabilities_[v]) * (base_log_probabilities_[v] - test_log_probabilities_[v]);
  }
  kl_.push_back(std::max(kl, 0.0));
  const auto base_top = std::max_element(base_logits, base_logits + vocab) - base_logits;
  const auto test_top = std::max_element(test_logits, test_logits + vocab) - test_logits;
  top1_matches_ += base_top == test_top ? 1 : 0;
}

double KlAccumulator::mean() const {
  double sum = 0;
  for (double kl : kl_) sum += kl;
  return kl_.empty() ? 0 : sum / double(kl_.size());
}

double KlAccumulator::percentile(double fraction) const {
  if (kl_.empty()) return 0;
  std::vector<double> sorted = kl_;
  const auto index = static_cast<size_t>(std::ceil(fraction * double(sorted.size()))) - 1;
  std::nth_element(sorted.begin(), sorted.begin() + long(index), sorted.end());
  return sorted[index];
}

double KlAccumulator::top1_agreement() const { return kl_.empty() ? 0 : double(top1_matches_) / double(kl_.size()); }

}  // namespace smoe::bench
