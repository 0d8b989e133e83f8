// The expert cache's columns of smoe-bench.
#include "expert_cache_report.h"

#include <algorithm>
#include <cstdio>

namespace smoe::bench {

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

}  // namespace

ExpertCacheStats difference(const ExpertCacheStats& after, const ExpertCacheStats& before) {
  ExpertCacheStats d;
  d.chosen = after.chosen - before.chosen;
  d.hits = after.hits - before.hits;
  d.bytes_read = after.bytes_read - before.bytes_read;
  d.read_seconds = after.read_seconds - before.read_seconds;
  d.wait_seconds = after.wait_seconds - before.wait_seconds;
  d.lookahead_reads = after.lookahead_reads - before.lookahead_reads;
  d.lookahead_checked = after.lookahead_checked - before.lookahead_checked;
  d.lookahead_correct = after.lookahead_correct - before.lookahead_correct;
  return d;
}

void add_expert_cache_results(nlohmann::json& result, const std::vector<ExpertCacheStats>& runs,
                              const std::vector<double>& disk_rates, const std::vector<double>& run_seconds,
                              size_t tokens_per_run) {
  std::vector<double> hit_rates, lookahead, disk_bytes, waits, computes, limits, efficiencies, read_rates;
  const double tokens = double(std::max<size_t>(tokens_per_run, 1));
  for (size_t i = 0; i < runs.size(); ++i) {
    const ExpertCacheStats& run = runs[i];
    hit_rates.push_back(run.hit_rate());
    lookahead.push_back(run.lookahead_accuracy());
    disk_bytes.push_back(double(run.bytes_read) / tokens);
    waits.push_back(run.wait_seconds / tokens);
    const double compute = std::max(0.0, run_seconds[i] - run.wait_seconds) / tokens;
    computes.push_back(compute);
    const double limit_seconds = disk_bytes.back() / disk_rates[i] + compute;  // per token
    limits.push_back(1 / limit_seconds);
    efficiencies.push_back(limit_seconds / (run_seconds[i] / tokens));
    if (run.read_seconds > 0) read_rates.push_back(double(run.bytes_read) / run.read_seconds);
  }
  result["expert_cache_hit_rate"] = median(hit_rates);
  result["lookahead_accuracy"] = median(lookahead);
  result["disk_bytes_per_token"] = median(disk_bytes);
  result["disk_read_rate_gb_s"] = median(disk_rates) / 1e9;
  result["expert_read_rate_gb_s"] = median(read_rates) / 1e9;
  result["read_wait_seconds_per_token"] = median(waits);
  result["compute_seconds_per_token"] = median(computes);
  result["disk_bound_tokens_per_s"] = median(limits);
  result["disk_bound_efficiency"] = median(efficiencies);
}

void print_expert_cache_results(const nlohmann::json& result) {
  std::printf("       expert cache: %.0f%% hits, lookahead predicted %.0f%% of the chosen; %.1f MB/token from disk, "
              "reads at %.2f GB/s (disk probe %.2f GB/s beside each repetition)\n",
              100 * result["expert_cache_hit_rate"].get<double>(), 100 * result["lookahead_accuracy"].get<double>(),
              result["disk_bytes_per_token"].get<double>() / 1e6, result["expert_read_rate_gb_s"].get<double>(),
              result["disk_read_rate_gb_s"].get<double>());
  std::printf("       per token %.0f ms computing, %.0f ms waiting for reads; disk-bound limit %.2f tok/s "
              "(disk bytes at the probe's rate + compute): %.0f%% of it\n",
              1e3 * result["compute_seconds_per_token"].get<double>(),
              1e3 * result["read_wait_seconds_per_token"].get<double>(), result["disk_bound_tokens_per_s"].get<double>(),
              100 * result["disk_bound_efficiency"].get<double>());
}

}  // namespace smoe::bench
