// ReplacementPolicy: decayed routing counts, recency, or chance.
#include "backend/replacement_policy.h"

namespace smoe::backend {

size_t ReplacementPolicy::choose_victim(std::span<const size_t> candidates) {
  if (kind_ == ExpertCachePolicy::random) {
    return std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(random_);
  }
  size_t best = 0;
  double best_score = statistics_.score(candidates[0]);
  uint64_t best_use = statistics_.last_use(candidates[0]);
  for (size_t i = 1; i < candidates.size(); ++i) {
    const double score = statistics_.score(candidates[i]);
    const uint64_t use = statistics_.last_use(candidates[i]);
    const bool colder = kind_ == ExpertCachePolicy::frequency ? score < best_score || (score == best_score && use < best_use)
                                                              : use < best_use;
    if (colder) {
      best = i;
      best_score = score;
      best_use = use;
    }
  }
  return best;
}

}  // namespace smoe::backend
