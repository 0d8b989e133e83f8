// Per-token scoring of a model's logits: negative log-likelihood, and KL divergence and top-1
// agreement against a base model's logits for the same positions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace smoe::bench {

// -log softmax(logits)[target], computed stably in double.
double negative_log_likelihood(const float* logits, size_t vocab, int32_t target);

// Accumulates KL(base || test) per position and whether both pick the same top token.
class KlAccumulator {
 public:
  void add(const float* base_logits, const float* test_logits, size_t vocab);
  size_t count() const { return kl_.size(); }
  double mean() const;
  double percentile(double fraction) const;  // e.g. 0.99
  double top1_agreement() const;

 private:
  std::vector<double> kl_;
  size_t top1_matches_ = 0;
  std::vector<double> base_log_probabilities_, test_log_probabilities_;
};

}  // namespace smoe::bench
