// Experts that run somewhere other than this thread's CPU loop: an accelerator holding the
// hottest ones (backend/expert_offload.h implements it). The model owns this interface, so the
// forward pass knows nothing of plugins or devices: it asks which experts are resident, hands
// them their rows, and reports each batch's routing, from which the runner decides what stays
// resident.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <span>

namespace smoe::model {

class ExpertRunner {
 public:
  virtual ~ExpertRunner() = default;
  virtual bool resident(uint32_t layer, uint32_t expert) const = 0;
  // Runs expert (layer, expert): out (n, dim) for x (n, dim). False when it is not resident or
  // the device failed (the caller then runs it on the CPU).
  virtual bool forward(uint32_t layer, uint32_t expert, const float* x, size_t n, float* out) = 0;
  // Runs `job` (calls of forward()) on the runner's own thread, so that the caller computes
  // the CPU's experts meanwhile; wait on the future before using the outputs.
  virtual std::future<void> run_concurrently(std::function<void()> job) = 0;
  // Expert runs the caller did on the CPU without asking forward(), and steps where CPU and
  // runner worked at the same time.
  virtual void record_cpu_runs(uint64_t count) = 0;
  virtual void record_concurrent_step() = 0;
  // After each evaluated batch: its selections (layers * experts counts). Placement changes
  // happen here, between batches, never inside one.
  virtual void finish_batch(std::span<const uint64_t> selections) = 0;
};

}  // namespace smoe::model
