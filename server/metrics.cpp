// Prometheus exposition (text format 0.0.4): HELP and TYPE lines, then samples.
#include "metrics.h"

#include <sstream>

namespace smoe::server {

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::add_tokens(uint64_t prompt_evaluated, uint64_t prompt_reused, uint64_t generated) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt_evaluated;
  prompt_tokens_reused_ += prompt_reused;
  generated_tokens_ += generated;
}

void Metrics::add_step_seconds(double seconds) {
  std::lock_guard lock(mutex_);
  step_seconds_ += seconds;
  ++steps_;
}

void Metrics::add_expert_counts(std::span<const uint64_t> counts, uint32_t experts_per_layer) {
  std::lock_guard lock(mutex_);
  if (expert_counts_.size() != counts.size()) expert_counts_.assign(counts.size(), 0);
  experts_per_layer_ = experts_per_layer;
  for (size_t i = 0; i < counts.size(); ++i) expert_counts_[i] += counts[i];
}

void Metrics::set_slots(uint32_t queued, uint32_t active, uint32_t total) {
  std::lock_guard lock(mutex_);
  queued_ = queued;
  active_ = active;
  slots_ = total;
}

void Metrics::set_model_loaded(bool loaded) {
  std::lock_guard lock(mutex_);
  model_loaded_ = loaded;
}

std::string Metrics::prometheus_text(const ModelCounters& model) const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out.precision(15);  // the default 6 digits would make long-running seconds counters move in whole seconds
  const auto header = [&](const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  // A metric without labels: its header and its one value.
  const auto single = [&](const char* name, const char* type, const char* help, auto value) {
    header(name, type, help);
    out << name << ' ' << value << '\n';
  };
  header("smoe_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (const auto& [key, count] : requests_) {
    out << "smoe_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second << "\"} " << count << '\n';
  }
  single("smoe_prompt_tokens_total", "counter", "Prompt tokens evaluated.", prompt_tokens_);
  single("smoe_prompt_tokens_reused_total", "counter", "Prompt tokens found in a slot's cache and not evaluated again.",
         prompt_tokens_reused_);
  single("smoe_generated_tokens_total", "counter", "Tokens generated.", generated_tokens_);
  single("smoe_step_seconds_total", "counter", "Seconds the scheduler spent evaluating (prompts and decoding).",
         step_seconds_);
  single("smoe_steps_total", "counter", "Scheduler steps (each advances every active slot once).", steps_);
  // Throughput while busy: idle time does not dilute it (rate() of the counters gives wall-clock rates).
  single("smoe_generated_tokens_per_second", "gauge", "Generated tokens per second of scheduler work since start.",
         (step_seconds_ > 0 ? double(generated_tokens_) / step_seconds_ : 0.0));
  single("smoe_queue_depth", "gauge", "Requests waiting for a free slot.", queued_);
  single("smoe_active_slots", "gauge", "Slots generating now.", active_);
  single("smoe_slots", "gauge", "Slots (--parallel).", slots_);
  single("smoe_model_loaded", "gauge", "1 once the model is loaded.", (model_loaded_ ? 1 : 0));
  if (const std::optional<ExpertCacheStats>& cache = model.expert_cache) {
    single("smoe_expert_cache_lookups_total", "counter", "Experts the CPU ran from the expert cache (per MoE step).",
           cache->chosen);
    single("smoe_expert_cache_hits_total", "counter",
           "Of those, experts already in memory or being read ahead when chosen.", cache->hits);
    single("smoe_expert_cache_hit_ratio", "gauge", "Expert cache hits over lookups since start.", cache->hit_rate());
    single("smoe_expert_cache_read_bytes_total", "counter", "Bytes the expert cache read from disk.",
           cache->bytes_read);
    single("smoe_expert_cache_wait_seconds_total", "counter", "Seconds decoding waited for expert reads.",
           cache->wait_seconds);
  }
  if (const std::optional<OffloadStats>& device = model.accelerator) {
    header("smoe_expert_runs_total", "counter", "Expert runs, by where they ran.");
    out << "smoe_expert_runs_total{on=\"accelerator\"} " << device->device_runs << '\n';
    out << "smoe_expert_runs_total{on=\"cpu\"} " << device->cpu_runs << '\n';
    const uint64_t runs = device->device_runs + device->cpu_runs;
    single("smoe_accelerator_hit_ratio", "gauge", "Expert runs served by the accelerator over all expert runs.",
           runs ? double(device->device_runs) / double(runs) : 0.0);
    single("smoe_accelerator_resident_experts", "gauge", "Experts held in accelerator memory now.",
           device->resident_experts);
  }
  if (experts_per_layer_ > 0) {
    header("smoe_expert_selections_total", "counter", "Times the router chose each expert, by layer.");
    for (size_t i = 0; i < expert_counts_.size(); ++i) {
      out << "smoe_expert_selections_total{layer=\"" << i / experts_per_layer_ << "\",expert=\""
          << i % experts_per_layer_ << "\"} " << expert_counts_[i] << '\n';
    }
  }
  return out.str();
}

}  // namespace smoe::server
