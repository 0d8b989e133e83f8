// RoutingStatistics: lazily decayed counts (each key decays when it is read or updated).
#include "model/routing_statistics.h"

#include <algorithm>
#include <cmath>

namespace smoe::model {

RoutingStatistics::RoutingStatistics(uint32_t layers, uint32_t experts)
    : experts_(experts),
      decay_per_tick_(std::exp2(-1.0 / kHalfLifeTicks)),
      count_(size_t{layers} * experts, 0.0),
      last_update_(count_.size(), 1),
      last_use_(count_.size(), 0) {}

double RoutingStatistics::score_at(size_t key, uint64_t tick) const {
  const uint64_t age = tick >= last_update_[key] ? tick - last_update_[key] : 0;
  return count_[key] * std::pow(decay_per_tick_, double(age));
}

void RoutingStatistics::record_step(uint32_t layer, std::span<const uint64_t> counts) {
  const std::lock_guard lock(mutex_);
  if (layer == 0) ++tick_;
  for (size_t e = 0; e < counts.size() && e < experts_; ++e) {
    if (counts[e] == 0) continue;
    const size_t key = size_t{layer} * experts_ + e;
    count_[key] = score_at(key, tick_) + double(counts[e]);
    last_update_[key] = last_use_[key] = tick_;
  }
}

void RoutingStatistics::record_use(size_t key) {
  const std::lock_guard lock(mutex_);
  count_[key] = score_at(key, tick_) + 1.0;
  last_update_[key] = last_use_[key] = tick_;
}

void RoutingStatistics::seed(std::span<const double> counts) {
  const std::lock_guard lock(mutex_);
  for (size_t key = 0; key < count_.size() && key < counts.size(); ++key) {
    count_[key] = counts[key];
    last_update_[key] = tick_;
  }
}

void RoutingStatistics::seed_profile(std::span<const double> shares, uint32_t choices_per_tick) {
  if (shares.size() != count_.size() || experts_ == 0) return;
  // A count fed one choice per tick settles at 1 / (1 - decay) (a geometric series).
  const double steady = double(choices_per_tick) / (1.0 - decay_per_tick_);
  std::vector<double> counts(shares.size());
  for (size_t first = 0; first < shares.size(); first += experts_) {
    double total = 0;
    for (size_t e = 0; e < experts_; ++e) total += std::max(0.0, shares[first + e]);
    if (total <= 0) continue;
    for (size_t e = 0; e < experts_; ++e) counts[first + e] = steady * std::max(0.0, shares[first + e]) / total;
  }
  seed(counts);
}

uint64_t RoutingStatistics::now() const {
  const std::lock_guard lock(mutex_);
  return tick_;
}

double RoutingStatistics::score(size_t key) const {
  const std::lock_guard lock(mutex_);
  return score_at(key, tick_);
}

uint64_t RoutingStatistics::last_use(size_t key) const {
  const std::lock_guard lock(mutex_);
  return last_use_[key];
}

std::vector<double> RoutingStatistics::scores() const {
  const std::lock_guard lock(mutex_);
  std::vector<double> all(count_.size());
  for (size_t key = 0; key < all.size(); ++key) all[key] = score_at(key, tick_);
  return all;
}

std::vector<uint64_t> RoutingStatistics::last_uses() const {
  const std::lock_guard lock(mutex_);
  return last_use_;
}

}  // namespace smoe::model
