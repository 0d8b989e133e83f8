// Hybrid CPU/device execution of experts: the hottest experts live on a backend (the CUDA
// plugin) within a byte budget; the rest run on the CPU, at the same time (the device's calls
// go through a worker thread while the CPU computes its experts).
//
// The top tier of VRAM -> RAM -> disk. Hotness is the model's routing statistics, ranked by
// backend/expert_ranking.h, the same order the expert cache (the RAM tier) evicts by. Between
// batches, when the hottest set that fits no longer matches what is resident, cold residents
// are released and hot experts uploaded (each as its w1, w3, w2): re-placement happens between
// steps, never inside one. With an expert store below (the RAM tier), uploads read the expert
// through it (a slot held for the copy) and tell it which experts the device serves, so the
// tiers hold different experts; without one, from the weights in memory or the mapping.
// Shared by all sessions of a model: the backend is called under a mutex, and one placement
// runs at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/device_worker.h"
#include "backend/expert_ranking.h"
#include "backend/plugin.h"
#include "model/expert_runner.h"
#include "model/expert_store.h"
#include "model/model_weights.h"
#include "model/routing_statistics.h"
#include "smoe/hyperparameters.h"

namespace smoe::backend {

class ExpertOffload final : public model::ExpertRunner {
 public:
  // First placement until `budget_bytes` is used, hottest first by the ranking: `profile`
  // (layers * experts routing fractions from calibration, stored in the container by
  // smoe-convert) seeds `statistics` first; with no statistics the ranking gives the same number
  // of experts in every layer. `store`: the RAM tier to read experts through (null: `weights`
  // are readable as they are); it must outlive this object.
  ExpertOffload(std::unique_ptr<Plugin> plugin, const Hyperparameters& hp, const model::ModelWeights& weights,
                uint64_t budget_bytes, model::RoutingStatistics& statistics, const std::vector<double>& profile = {},
                model::ExpertStore* store = nullptr);
  ~ExpertOffload() override;

  // Runs expert (layer, expert) on the device when it is resident: out (n, dim) for x (n, dim).
  // Returns false when it is not (or the device failed: that expert then stays on the CPU).
  bool forward(uint32_t layer, uint32_t expert, const float* x, size_t n, float* out) override;
  // Runs `job` (calls of forward()) on the accelerator's worker thread, so the caller can
  // compute CPU experts meanwhile; wait on the future before using the outputs.
  std::future<void> run_concurrently(std::function<void()> job) override { return worker_.submit(std::move(job)); }
  // Counts expert runs the caller did on the CPU without asking forward() (not resident), and
  // steps where CPU and device experts ran at the same time.
  void record_cpu_runs(uint64_t count) override;
  void record_concurrent_step() override;
  uint64_t concurrent_steps() const;
  // Re-places experts by the statistics if the hottest set changed (between batches: the
  // caller holds nothing of the store, whose fetch may wait for a slot).
  void replace();
  // The forward pass recorded the batch's selections in the statistics already.
  void finish_batch(std::span<const uint64_t>) override { replace(); }

  uint32_t resident_experts() const;
  bool resident(uint32_t layer, uint32_t expert) const override;
  uint64_t resident_bytes() const;
  uint64_t budget_bytes() const { return budget_; }
  std::string description() const;
  uint64_t hits() const;    // expert runs served by the device
  uint64_t misses() const;  // expert runs left to the CPU

 private:
  // Carries out `plan` (placement_mutex_ held, mutex_ not: reading through the store may wait).
  void apply(const TierPlan& plan);
  // False when the backend refused it (out of memory, or failed): placement stops there.
  bool upload(size_t index);
  void release(size_t index);  // mutex_ held

  std::unique_ptr<Plugin> plugin_;
  const Hyperparameters& hp_;
  const model::ModelWeights& weights_;
  model::ExpertStore* store_;
  uint64_t budget_;
  std::mutex placement_mutex_;  // one placement at a time; taken before mutex_
  mutable std::mutex mutex_;    // the backend and the members below
  std::vector<uint64_t> handles_;     // per (layer * experts + expert); 0 = on the CPU
  std::vector<uint64_t> bytes_;       // each expert's weight bytes
  model::RoutingStatistics& statistics_;
  uint64_t used_ = 0, hits_ = 0, misses_ = 0, concurrent_steps_ = 0;
  bool failed_ = false;  // the backend failed once: everything stays on the CPU
  DeviceWorker worker_;  // last: its thread stops before the members above go
};

}  // namespace smoe::backend
