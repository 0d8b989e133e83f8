// ExpertRanking: one comparison for every decision, each reading the statistics once.
#include "backend/expert_ranking.h"

#include <algorithm>
#include <numeric>

namespace smoe::backend {

namespace {

struct Heat {
  double score;
  uint64_t last_use;
};

// The order of the header: count, recency, expert index within the layer, layer.
bool hotter(size_t a, const Heat& heat_a, size_t b, const Heat& heat_b, uint32_t experts_per_layer) {
  if (heat_a.score != heat_b.score) return heat_a.score > heat_b.score;
  if (heat_a.last_use != heat_b.last_use) return heat_a.last_use > heat_b.last_use;
  const size_t expert_a = a % experts_per_layer, expert_b = b % experts_per_layer;
  if (expert_a != expert_b) return expert_a < expert_b;
  return a < b;
}

// Every key hottest first, from one snapshot of the statistics.
std::vector<size_t> rank(std::span<const double> scores, std::span<const uint64_t> uses, uint32_t experts_per_layer) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return hotter(a, {scores[a], uses[a]}, b, {scores[b], uses[b]}, experts_per_layer);
  });
  return order;
}

}  // namespace

std::vector<size_t> ExpertRanking::hottest_first() const {
  return rank(statistics_.scores(), statistics_.last_uses(), std::max<uint32_t>(statistics_.experts_per_layer(), 1));
}

size_t ExpertRanking::coldest(std::span<const size_t> candidates) const {
  const uint32_t experts = std::max<uint32_t>(statistics_.experts_per_layer(), 1);
  size_t coldest = 0;
  Heat coldest_heat{statistics_.score(candidates[0]), statistics_.last_use(candidates[0])};
  for (size_t i = 1; i < candidates.size(); ++i) {
    const Heat heat{statistics_.score(candidates[i]), statistics_.last_use(candidates[i])};
    if (hotter(candidates[coldest], coldest_heat, candidates[i], heat, experts)) {
      coldest = i;
      coldest_heat = heat;
    }
  }
  return coldest;
}

TierPlan ExpertRanking::plan(std::span<const uint64_t> bytes, uint64_t budget_bytes, std::span<const uint8_t> resident,
                             bool place_unchosen) const {
  const std::vector<double> scores = statistics_.scores();
  const std::vector<size_t> order =
      rank(scores, statistics_.last_uses(), std::max<uint32_t>(statistics_.experts_per_layer(), 1));
  std::vector<uint8_t> planned(order.size(), 0);
  uint64_t planned_bytes = 0;
  double coldest_planned = 1e300;
  for (const size_t key : order) {
    if (bytes[key] > budget_bytes - planned_bytes || (scores[key] <= 0 && !place_unchosen)) continue;
    planned[key] = 1;
    planned_bytes += bytes[key];
    coldest_planned = std::min(coldest_planned, scores[key]);
  }
  TierPlan plan;
  for (size_t key = 0; key < order.size(); ++key) {
    if (resident[key] && !planned[key] && scores[key] * kHysteresis < coldest_planned) plan.release.push_back(key);
  }
  for (const size_t key : order) {
    if (planned[key] && !resident[key]) plan.upload.push_back(key);
  }
  return plan;
}

}  // namespace smoe::backend
