// Which expert an expert cache evicts when it needs a slot (ModelOptions::expert_cache_policy),
// read from the model's routing statistics (model/routing_statistics.h), which the forward pass
// updates at every MoE step. Keys are layer * experts + expert.
//   frequency: the coldest by backend/expert_ranking.h, the order the device tier places by
//              (decayed counts; ties to the least recent).
//   lru:       the least recently chosen.
//   random:    a uniformly random one (fixed seed), the baseline the others must beat.
// Not thread-safe (the random policy's generator): the cache calls it under its lock.
#pragma once

#include <cstddef>
#include <random>
#include <span>

#include "backend/expert_ranking.h"
#include "model/routing_statistics.h"
#include "smoe/options.h"

namespace smoe::backend {

class ReplacementPolicy {
 public:
  ReplacementPolicy(ExpertCachePolicy kind, const model::RoutingStatistics& statistics)
      : kind_(kind), statistics_(statistics), ranking_(statistics) {}
  // The position in `candidates` (non-empty) of the key to evict.
  size_t choose_victim(std::span<const size_t> candidates);

 private:
  ExpertCachePolicy kind_;
  const model::RoutingStatistics& statistics_;
  ExpertRanking ranking_;
  std::mt19937_64 random_{0x5eed};
};

}  // namespace smoe::backend
