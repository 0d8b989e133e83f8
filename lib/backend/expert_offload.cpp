// Expert placement on a backend and dispatch of resident experts.
#include "backend/expert_offload.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include "format/panels.h"

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
                             const std::vector<double>& profile)
    : plugin_(std::move(plugin)), hp_(hp), weights_(weights), statistics_(statistics) {
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
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  if (profile.size() == count) {
    // The calibration profile seeds the statistics (as a text routed that way would have).
    statistics_.seed_profile(profile, hp.num_experts_per_tok);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return profile[a] > profile[b]; });
  } else {
    // No statistics yet: the same number of experts in every layer, lowest indices first.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return a % hp.num_local_experts < b % hp.num_local_experts; });
  }
  std::string error;
  for (size_t index : order) {
    if (used_ + bytes_[index] > budget_) continue;
    if (!upload(index, error)) break;
  }
}

ExpertOffload::~ExpertOffload() {
  for (size_t i = 0; i < handles_.size(); ++i) release(i);
}

bool ExpertOffload::upload(size_t index, std::string& error) {
  const model::ExpertWeights& expert = weights_.layers[index / hp_.num_local_experts].experts[index % hp_.num_local_experts];
  std::vector<std::byte> copies[3];
  const smoe_backend_tensor w1 = describe(*expert.w1, copies[0]), w3 = describe(*expert.w3, copies[1]),
                            w2 = describe(*expert.w2, copies[2]);
  char message[512] = "";
  smoe_backend& api = plugin_->api();
  const uint64_t handle = api.upload_expert(api.state, &w1, &w3, &w2, message, sizeof(message));
  if (handle == 0) {
    error = message;
    return false;
  }
  handles_[index] = handle;
  used_ += bytes_[index];
  return true;
}

void ExpertOffload::release(size_t index) {
  if (handles_[index] == 0) return;
  plugin_->api().release(plugin_->api().state, handles_[index]);
  handles_[index] = 0;
  used_ -= bytes_[index];
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
  const std::lock_guard lock(mutex_);
  if (failed_) return;
  const std::vector<double> scores = statistics_.scores();
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  // The hottest set that fits; a resident expert is only evicted for a clearly hotter one
  // (hysteresis of 10%), so equal scores do not make experts move back and forth.
  std::vector<bool> wanted(order.size(), false);
  uint64_t planned = 0;
  for (size_t index : order) {
    if (planned + bytes_[index] > budget_ || scores[index] <= 0) continue;
    wanted[index] = true;
    planned += bytes_[index];
  }
  double coldest_wanted = 1e300;
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (wanted[i]) coldest_wanted = std::min(coldest_wanted, scores[i]);
  }
  for (size_t i = 0; i < handles_.size(); ++i) {
    if (handles_[i] != 0 && !wanted[i] && scores[i] * 1.1 < coldest_wanted) release(i);
  }
  std::string error;
  for (size_t index : order) {
    if (!wanted[index] || handles_[index] != 0) continue;
    if (used_ + bytes_[index] > budget_) continue;
    if (!upload(index, error)) break;
  }
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
