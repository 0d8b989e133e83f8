// Which expert an expert cache evicts when it needs a slot (ModelOptions::expert_cache_policy).
// Keys are (layer * experts + expert); time is counted in MoE steps of the first layer, so about
// one tick per decoded token.
//   frequency: routing frequency with exponential decay (half-life kHalfLifeTicks): the expert
//              chosen least often lately goes; ties to the least recently used.
//   lru:       the least recently chosen goes.
//   random:    a uniformly random one (fixed seed), the baseline the others must beat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "smoe/options.h"

namespace smoe::backend {

class ReplacementPolicy {
 public:
  static constexpr double kHalfLifeTicks = 64;

  ReplacementPolicy(ExpertCachePolicy kind, size_t keys);
  void record_use(size_t key, uint64_t tick);
  // The position in `candidates` (non-empty) of the key to evict at `tick`.
  size_t choose_victim(std::span<const size_t> candidates, uint64_t tick);
  double score(size_t key, uint64_t tick) const;  // frequency: the decayed count

 private:
  ExpertCachePolicy kind_;
  std::vector<double> count_;       // decayed count as of last_use_
  std::vector<uint64_t> last_use_;  // tick of the last use (0: never)
  double decay_per_tick_;
  std::mt19937_64 random_{0x5eed};
};

}  // namespace smoe::backend
