// Which experts are hottest, for every tier that decides where experts live: the device tier
// (backend/expert_offload.h) keeps the hottest that fit its byte budget, and the RAM tier
// (backend/expert_cache.h, `frequency` policy) evicts the coldest. One order from the model's
// routing statistics (model/routing_statistics.h), so VRAM, RAM and disk agree on what is hot:
//   hotter = higher decayed routing count, ties to the more recent choice, then to the lower
//   expert index within its layer (with no statistics yet, every layer gets the same number),
//   then to the lower layer.
// Keys are layer * experts + expert. Reads the statistics, which are thread-safe; holds no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/routing_statistics.h"

namespace smoe::backend {

// What a tier of a byte budget changes to hold the hottest experts it can.
struct TierPlan {
  std::vector<size_t> release;  // resident keys that leave
  std::vector<size_t> upload;   // keys that come in, hottest first
};

class ExpertRanking {
 public:
  // A resident expert leaves only for one this much hotter, so that experts of about equal
  // counts do not move back and forth between batches (each move is a copy of its weights).
  static constexpr double kHysteresis = 1.1;

  explicit ExpertRanking(const model::RoutingStatistics& statistics) : statistics_(statistics) {}

  // Every key, hottest first.
  std::vector<size_t> hottest_first() const;
  // The position in `candidates` (non-empty) of the coldest key.
  size_t coldest(std::span<const size_t> candidates) const;
  // The hottest keys that fit `budget_bytes` (`bytes`: each key's size), against `resident`
  // (one per key, nonzero where the tier holds it now). Keys never chosen are planned only with
  // `place_unchosen` (a first placement, before any routing); a resident key is released only
  // when it is not planned and kHysteresis times its count is below the coldest planned one's.
  TierPlan plan(std::span<const uint64_t> bytes, uint64_t budget_bytes, std::span<const uint8_t> resident,
                bool place_unchosen) const;

 private:
  const model::RoutingStatistics& statistics_;
};

}  // namespace smoe::backend
