// Expert placement on a backend and dispatch of resident experts.
#include "backend/expert_offload.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "format/panels.h"
#include "smoe/error.h"

namespace smoe::backend {
namespace {

// The ABI's tensors have contiguous rows of a row type (backend_abi.h): a matrix stored in
// column panels or with interleaved rows (q4k_x8, q8_x8) is gathered into `rows_copy` for the upload
// (which copies it before returning), as rows of quant::row_type, so backends never see
// panels or interleaving.
smoe_backend_tensor describe(const format::TensorView& view, std::vector<std::byte>& rows_copy) {
  const void* data = view.data;
  const quant::TensorType type = quant::row_type(view.type);
  if (view.panel_columns != 0 || type != view.type) {
    const uint64_t rows = view.shape[0], row_bytes = view.bytes / rows;
    rows_copy.resize(view.bytes);
    format::RowReader reader(view);
    for (uint64_t r = 0; r < rows; ++r) {
      reader.for_each_piece(r, [&](const std::byte* piece, uint64_t column, uint64_t columns) {
        const uint64_t offset = *quant::row_bytes(type, column), bytes = *quant::row_bytes(type, columns);
        std::memcpy(&rows_copy[r * row_bytes + offset], piece, bytes);
      });
    }
    data = rows_copy.data();
  }
  return {static_cast<uint32_t>(type), view.shape[0], view.shape[1], data, view.bytes};
}

}  // namespace

ExpertOffload::ExpertOffload(std::unique_ptr<Plugin> plugin, const Hyperparameters& hp, const model::ModelWeights& weights,
                             uint64_t budget_bytes, model::RoutingStatistics& statistics,
                             const std::vector<double>& profile, model::ExpertStore* store)
    : plugin_(std::move(plugin)), hp_(hp), weights_(weights), store_(store), statistics_(statistics) {
  const size_t count = size_t{hp.num_hidden_layers} * hp.num_local_experts;
  handles_.assign(count, 0);
  bytes_.resize(count);
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    for (uint32_t e = 0; e < hp.num_local_experts; ++e) {
      const model::ExpertWeights& expert = weights.layers[layer].experts[e];
      bytes_[size_t{layer} * hp.num_local_experts + e] = expert.w1->bytes + expert.w3->bytes + expert.w2->bytes;
    }
  }
  budget_ = std::min(budget_bytes, plugin_->api().memory_bytes(plugin_->api().state));
  // The calibration profile seeds the statistics (as a text routed that way would have).
  if (profile.size() == count) statistics_.seed_profile(profile, hp.num_experts_per_tok);
  const std::lock_guard placing(placement_mutex_);
  // Before any routing every expert is worth placing: the budget is filled.
  apply(ExpertRanking(statistics_).plan(bytes_, budget_, std::vector<uint8_t>(count, 0), true));
}

ExpertOffload::~ExpertOffload() {
  store_ = nullptr;  // whether the store still exists or not, it has nothing left to learn
  for (size_t i = 0; i < handles_.size(); ++i) release(i);
}

void ExpertOffload::apply(const TierPlan& plan) {
  {
    const std::lock_guard lock(mutex_);
    if (failed_) return;
    for (const size_t index : plan.release) release(index);
  }
  for (const size_t index : plan.upload) {
    if (!upload(index)) break;
  }
}

bool ExpertOffload::upload(size_t index) {
  const uint32_t layer = static_cast<uint32_t>(index / hp_.num_local_experts);
  const uint32_t expert = static_cast<uint32_t>(index % hp_.num_local_experts);
  {
    const std::lock_guard lock(mutex_);
    if (failed_) return false;
    if (used_ + bytes_[index] > budget_) return true;  // residents kept by the hysteresis use the room
  }
  // Through the RAM tier when there is one: its slot is held while the backend copies (no
  // mutex here, so other sessions' device experts run while the read waits).
  const model::ExpertWeights* weights = &weights_.layers[layer].experts[expert];
  if (store_ != nullptr) {
    try {
      weights = &store_->fetch(layer, expert, false);
    } catch (const Error&) {
      return false;  // unreadable: it stays on the CPU, whose own read reports the error
    }
  }
  bool uploaded = false;
  try {
    std::vector<std::byte> copies[3];
    const smoe_backend_tensor w1 = describe(*weights->w1, copies[0]), w3 = describe(*weights->w3, copies[1]),
                              w2 = describe(*weights->w2, copies[2]);
    const std::lock_guard lock(mutex_);
    if (!failed_) {
      char message[512] = "";
      smoe_backend& api = plugin_->api();
      const uint64_t handle = api.upload_expert(api.state, &w1, &w3, &w2, message, sizeof(message));
      if (handle != 0) {
        handles_[index] = handle;
        used_ += bytes_[index];
        uploaded = true;
      }
    }
  } catch (...) {
    if (store_ != nullptr) store_->release(layer, expert);
    throw;
  }
  if (store_ != nullptr) {
    store_->release(layer, expert);
    // The slot it used goes to the CPU's experts (after the release, so it can be freed at once).
    if (uploaded) store_->set_served_by_runner(layer, expert, true);
  }
  return uploaded;
}

void ExpertOffload::release(size_t index) {
  if (handles_[index] == 0) return;
  plugin_->api().release(plugin_->api().state, handles_[index]);
  handles_[index] = 0;
  used_ -= bytes_[index];
  if (store_ != nullptr) {
    store_->set_served_by_runner(static_cast<uint32_t>(index / hp_.num_local_experts),
                                 static_cast<uint32_t>(index % hp_.num_local_experts), false);
  }
}

bool ExpertOffload::forward(uint32_t layer, uint32_t expert, const float* x, size_t n, float* out) {
  const std::lock_guard lock(mutex_);
  const size_t index = size_t{layer} * hp_.num_local_experts + expert;
  if (failed_ || handles_[index] == 0) {
    ++misses_;
    return false;
  }
  char message[512] = "";
  smoe_backend& api = plugin_->api();
  if (api.expert_forward(api.state, handles_[index], x, n, out, message, sizeof(message)) != 0) {
    // A device that fails mid-run is not trusted again: every expert goes back to the CPU
    // (this one included: the caller computes it), with one warning.
    std::fprintf(stderr, "smoe: the %s backend failed (%s); all experts run on the CPU from now on\n", api.name, message);
    for (size_t i = 0; i < handles_.size(); ++i) release(i);
    failed_ = true;
    ++misses_;
    return false;
  }
  ++hits_;
  return true;
}

void ExpertOffload::record_cpu_runs(uint64_t count) {
  const std::lock_guard lock(mutex_);
  misses_ += count;
}

void ExpertOffload::record_concurrent_step() {
  const std::lock_guard lock(mutex_);
  ++concurrent_steps_;
}

uint64_t ExpertOffload::concurrent_steps() const {
  const std::lock_guard lock(mutex_);
  return concurrent_steps_;
}

void ExpertOffload::replace() {
  const std::lock_guard placing(placement_mutex_);
  std::vector<uint8_t> resident(handles_.size());
  {
    const std::lock_guard lock(mutex_);
    if (failed_) return;
    for (size_t i = 0; i < handles_.size(); ++i) resident[i] = handles_[i] != 0;
  }
  apply(ExpertRanking(statistics_).plan(bytes_, budget_, resident, false));
}

uint32_t ExpertOffload::resident_experts() const {
  const std::lock_guard lock(mutex_);
  return static_cast<uint32_t>(std::count_if(handles_.begin(), handles_.end(), [](uint64_t h) { return h != 0; }));
}

bool ExpertOffload::resident(uint32_t layer, uint32_t expert) const {
  const std::lock_guard lock(mutex_);
  return handles_[size_t{layer} * hp_.num_local_experts + expert] != 0;
}

uint64_t ExpertOffload::resident_bytes() const {
  const std::lock_guard lock(mutex_);
  return used_;
}

std::string ExpertOffload::description() const {
  return std::string(plugin_->api().name) + " (" + plugin_->api().device + ")";
}

uint64_t ExpertOffload::hits() const {
  const std::lock_guard lock(mutex_);
  return hits_;
}

uint64_t ExpertOffload::misses() const {
  const std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace smoe::backend
