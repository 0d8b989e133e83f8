// Experts read from disk on demand into a fixed number of slots in memory, for models larger
// than the memory budget (WeightLoading::expert_cache). Each slot holds one expert's page-aligned
// range of the container (w1, w3, w2 back to back, as the converter lays them out); the slots are
// one huge-page allocation made at load, so the budget is claimed up front and the cache never
// grows. Reads go through DirectReader (around the page cache, on reader threads): requests
// first, lookahead reads behind them. Which expert leaves a full cache is the ReplacementPolicy's
// choice among those no step holds.
//
// It is the RAM tier below an ExpertOffload (the device tier), when there is one: the device
// reads the experts it uploads through the slots, and the tiers are exclusive: a slot holding an
// expert the device serves is freed as soon as nobody holds it, and is the first to go otherwise,
// so the slots go to the experts the CPU runs. Thread-safe: sessions on several threads share
// one cache.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "backend/replacement_policy.h"
#include "format/container.h"
#include "model/expert_store.h"
#include "smoe/model.h"
#include "util/direct_reader.h"

namespace smoe::backend {

class ExpertCache final : public model::ExpertStore {
 public:
  // Lookahead reads start only while the lookahead predicts at least this share of the chosen
  // experts (a moving average over steps, weight kAccuracyWeight per step). A wrong guess costs
  // a read and evicts an expert that may be needed: on the synthetic 8x7B (random weights, 47%
  // right) reading ahead lowered the hit rate and the speed; on mixtral-small (79% right) it
  // raised the hit rate. Predictions are always scored, so reading resumes when they improve.
  static constexpr double kMinLookaheadAccuracy = 0.6;
  static constexpr double kAccuracyWeight = 1.0 / 32;

  // The slot size for `container`: its largest expert range, rounded up to 2 MiB (the slots
  // are one huge-page allocation).
  static uint64_t slot_bytes(const format::Container& container);
  // The same from the largest range's size (the converter plans files before they exist).
  static uint64_t slot_bytes(uint64_t largest_range_bytes);

  // Throws smoe::Error naming the file when the slots cannot be allocated or the file opened.
  // `statistics`: the model's routing counts (the forward pass records every step), which the
  // replacement policy reads.
  ExpertCache(const format::Container& container, uint32_t slots, ExpertCachePolicy policy, bool lookahead,
              const model::RoutingStatistics& statistics);
  ~ExpertCache() override;

  void request(uint32_t layer, std::span<const uint32_t> experts, std::span<uint8_t> slotted) override;
  const model::ExpertWeights& fetch(uint32_t layer, uint32_t expert, bool kept) override;
  void release(uint32_t layer, uint32_t expert) override;
  void abandon(uint32_t layer, std::span<const uint32_t> experts) override;
  void prefetch(uint32_t layer, std::span<const uint32_t> experts) override;
  bool wants_lookahead() const override { return lookahead_; }
  void set_served_by_runner(uint32_t layer, uint32_t expert, bool served) override;

  // Whether (layer, expert) has a slot now (in memory or being read).
  bool holds(uint32_t layer, uint32_t expert) const;

  uint32_t slots() const { return static_cast<uint32_t>(slots_.size()); }
  uint64_t slot_size() const { return slot_bytes_; }
  bool direct_reads() const { return reader_.direct(); }
  ExpertCacheStats stats() const;

 private:
  enum class SlotState : uint8_t { empty, loading, ready, failed };
  struct Slot {
    size_t key = 0;         // layer * experts + expert, when not empty
    SlotState state = SlotState::empty;
    uint32_t pins = 0;      // fetched and not released
    uint32_t kept = 0;      // requested and not fetched yet
    bool prefetched = false;  // read ahead for its layer's next step: evicted last until then
    std::string error;      // SlotState::failed
  };
  struct Entry {
    const format::ExpertRange* range;
    int32_t slot = -1;
    format::TensorView w1, w3, w2;  // the container's views, data pointed into the slot
    model::ExpertWeights weights;
  };

  // A slot for `key`, and starts its read: an empty one, else one nobody holds: first one whose
  // expert the runner serves, then by the policy (prefetched ones last; none when
  // `avoid_prefetched` and only they are free). -1 when none is free.
  int32_t assign(size_t key, DirectReader::Priority priority, bool avoid_prefetched);
  void read_finished(int32_t slot, const std::string& error);

  const format::Container& container_;
  uint32_t experts_per_layer_;
  uint32_t layers_;
  bool lookahead_;
  uint64_t slot_bytes_;
  std::byte* memory_ = nullptr;  // slots * slot_bytes_
  uint64_t memory_bytes_ = 0;
  DirectReader reader_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a read finished or a slot was released
  std::vector<Slot> slots_;
  std::vector<Entry> entries_;       // by key
  std::vector<uint8_t> served_by_runner_;  // by key: the tier above serves it (set_served_by_runner)
  ReplacementPolicy policy_;
  std::vector<std::vector<uint32_t>> predicted_;  // per layer: the lookahead's last prediction
  double lookahead_accuracy_ = 1.0;  // moving average; starts trusting the lookahead
  ExpertCacheStats stats_;
};

}  // namespace smoe::backend
