// ReplacementPolicy: decayed routing counts, recency, or chance.
#include "backend/replacement_policy.h"

#include <cmath>

namespace smoe::backend {

ReplacementPolicy::ReplacementPolicy(ExpertCachePolicy kind, size_t keys)
    : kind_(kind), count_(keys, 0.0), last_use_(keys, 0), decay_per_tick_(std::exp2(-1.0 / kHalfLifeTicks)) {}

double ReplacementPolicy::score(size_t key, uint64_t tick) const {
  const uint64_t age = tick >= last_use_[key] ? tick - last_use_[key] : 0;
  return count_[key] * std::pow(decay_per_tick_, double(age));
}

void ReplacementPolicy::record_use(size_t key, uint64_t tick) {
  count_[key] = score(key, tick) + 1.0;
  last_use_[key] = tick;
}

size_t ReplacementPolicy::choose_victim(std::span<const size_t> candidates, uint64_t tick) {
  if (kind_ == ExpertCachePolicy::random) {
    return std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(random_);
  }
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    const size_t a = candidates[i], b = candidates[best];
    if (kind_ == ExpertCachePolicy::frequency) {
      const double score_a = score(a, tick), score_b = score(b, tick);
      if (score_a < score_b || (score_a == score_b && last_use_[a] < last_use_[b])) best = i;
    } else if (last_use_[a] < last_use_[b]) {
      best = i;
    }
  }
  return best;
}

}  // namespace smoe::backend
