// Server counters, rendered in Prometheus' text format for GET /metrics. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "smoe/model.h"

namespace smoe::server {

// The model's own counters at the time of a scrape: its expert cache (models larger than memory)
// and its accelerator, each where the model uses one.
struct ModelCounters {
  std::optional<ExpertCacheStats> expert_cache;
  std::optional<OffloadStats> accelerator;
};

class Metrics {
 public:
  // One finished HTTP request: `endpoint` is a known route or "other" (bounded label values).
  void count_request(const std::string& endpoint, int status);
  // Prompt tokens evaluated, prompt tokens reused from a slot's cache, tokens generated.
  void add_tokens(uint64_t prompt_evaluated, uint64_t prompt_reused, uint64_t generated);
  // Wall time of one scheduler step (all active slots advanced once).
  void add_step_seconds(double seconds);
  // Expert selections since the last call, (layers * experts) as in RunStats::expert_counts.
  void add_expert_counts(std::span<const uint64_t> counts, uint32_t experts_per_layer);
  void set_slots(uint32_t queued, uint32_t active, uint32_t total);
  void set_model_loaded(bool loaded);

  // The counters above, and the model's where given.
  std::string prometheus_text(const ModelCounters& model = {}) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, status) -> count
  uint64_t prompt_tokens_ = 0;
  uint64_t prompt_tokens_reused_ = 0;
  uint64_t generated_tokens_ = 0;
  double step_seconds_ = 0;
  uint64_t steps_ = 0;
  std::vector<uint64_t> expert_counts_;
  uint32_t experts_per_layer_ = 0;
  uint32_t queued_ = 0;
  uint32_t active_ = 0;
  uint32_t slots_ = 0;
  bool model_loaded_ = false;
};

}  // namespace smoe::server
