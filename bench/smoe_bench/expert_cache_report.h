// smoe-bench's expert cache columns: hit rate, lookahead accuracy, disk bytes per token, the
// disk's rate, and decoding against its disk-bound limit: per token, the disk bytes at the rate
// the probe measured plus the time the forward pass computed (the run's time minus its waits
// for reads), the time a run that never overlapped reads with compute would take.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "smoe/model.h"

namespace smoe::bench {

ExpertCacheStats difference(const ExpertCacheStats& after, const ExpertCacheStats& before);

// Medians over the repetitions into `result` (keys expert_cache_*, disk_*).
void add_expert_cache_results(nlohmann::json& result, const std::vector<ExpertCacheStats>& runs,
                              const std::vector<double>& disk_rates, const std::vector<double>& run_seconds,
                              size_t tokens_per_run);
void print_expert_cache_results(const nlohmann::json& result);

}  // namespace smoe::bench
