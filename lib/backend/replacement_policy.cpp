// ReplacementPolicy: the shared ranking, recency, or chance.
#include "backend/replacement_policy.h"

namespace smoe::backend {

size_t ReplacementPolicy::choose_victim(std::span<const size_t> candidates) {
  if (kind_ == ExpertCachePolicy::random) {
    return std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(random_);
  }
  if (kind_ == ExpertCachePolicy::frequency) return ranking_.coldest(candidates);
  size_t oldest = 0;
  uint64_t oldest_use = statistics_.last_use(candidates[0]);
  for (size_t i = 1; i < candidates.size(); ++i) {
    const uint64_t use = statistics_.last_use(candidates[i]);
    if (use < oldest_use) {
      oldest = i;
      oldest_use = use;
    }
  }
  return oldest;
}

}  // namespace smoe::backend
