// How often the router chose each expert lately, shared by every tier that decides where
// experts live: the accelerator (backend/expert_offload.h: the hottest in VRAM) and the expert
// cache (backend/expert_cache.h: which stay in RAM), both ranked by backend/expert_ranking.h.
// One set of counts, so both tiers agree on what is hot. Counts decay exponentially with a half-life of kHalfLifeTicks ticks; a tick is
// one MoE step of the first layer, about one token per sequence. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace smoe::model {

class RoutingStatistics {
 public:
  static constexpr double kHalfLifeTicks = 64;

  // `keys`: layers * experts (key = layer * experts + expert).
  RoutingStatistics(uint32_t layers, uint32_t experts);

  // One MoE step of `layer`: `counts` (experts,) how many rows chose each expert. Layer 0 starts
  // a new tick.
  void record_step(uint32_t layer, std::span<const uint64_t> counts);
  // One choice of `key` (tests and callers without whole steps).
  void record_use(size_t key);
  // Starting counts (layers * experts) before any use.
  void seed(std::span<const double> counts);
  // Starting counts from a calibration routing profile (layers * experts shares of each layer's
  // choices): the counts a text routed that way leaves at the steady state of the decay, with
  // `choices_per_tick` experts chosen per step (top-k). Seeded as bare shares (below one
  // choice), the first tokens' choices outweighed the whole profile at once: the tiers placed
  // by a handful of tokens until the decay caught up.
  void seed_profile(std::span<const double> shares, uint32_t choices_per_tick);

  uint64_t now() const;
  double score(size_t key) const;     // the decayed count now
  uint64_t last_use(size_t key) const;  // the tick of its last choice (0: never)
  std::vector<double> scores() const;   // every key's score now
  std::vector<uint64_t> last_uses() const;  // every key's last choice
  size_t keys() const { return count_.size(); }
  uint32_t experts_per_layer() const { return experts_; }

 private:
  double score_at(size_t key, uint64_t tick) const;

  uint32_t experts_;
  double decay_per_tick_;
  mutable std::mutex mutex_;
  uint64_t tick_ = 1;
  std::vector<double> count_;       // decayed count as of last_update_
  std::vector<uint64_t> last_update_, last_use_;
};

}  // namespace smoe::model
