// ExpertCache: slots, their states, and the reads that fill them.
//
// A slot is empty, loading (a read in flight: never evicted), ready or failed. A step keeps
// what it requested (`kept`) until it fetches it, and holds (`pins`) what it fetched until it
// releases it; neither is evicted. A caller waiting in fetch() for a slot holds nothing (the
// forward pass fetches the experts request() slotted first and releases each after running
// it), so waiting callers always get one once the running ones release theirs. The device tier
// above fetches only where it holds no slot either (while placing, between batches).
#include "backend/expert_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>

#include "smoe/error.h"

namespace smoe::backend {

namespace {
constexpr uint64_t kHugePage = uint64_t{2} << 20;
}

uint64_t ExpertCache::slot_bytes(const format::Container& container) {
  uint64_t largest = 0;
  for (const format::ExpertRange& range : container.expert_ranges()) largest = std::max(largest, range.bytes);
  return slot_bytes(largest);
}

uint64_t ExpertCache::slot_bytes(uint64_t largest_range_bytes) {
  return (largest_range_bytes + kHugePage - 1) / kHugePage * kHugePage;
}

ExpertCache::ExpertCache(const format::Container& container, uint32_t slots, ExpertCachePolicy policy, bool lookahead,
                         const model::RoutingStatistics& statistics)
    : container_(container),
      experts_per_layer_(container.metadata().hyperparameters.num_local_experts),
      layers_(container.metadata().hyperparameters.num_hidden_layers),
      lookahead_(lookahead),
      slot_bytes_(slot_bytes(container)),
      reader_(container.path()),
      slots_(std::max<uint32_t>(slots, 1)),
      policy_(policy, statistics),
      predicted_(layers_) {
  memory_bytes_ = slot_bytes_ * slots_.size();
  // Populated now: the budget is claimed at load, where running out is a clear error, not an
  // OOM kill at the first miss.
  void* memory = ::mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw Error(container.path(), "cannot allocate " + std::to_string(memory_bytes_) + " bytes for " +
                                      std::to_string(slots_.size()) + " expert slots");
  }
  ::madvise(memory, memory_bytes_, MADV_HUGEPAGE);  // advisory
  memory_ = static_cast<std::byte*>(memory);
  for (uint64_t offset = 0; offset < memory_bytes_; offset += 4096) memory_[offset] = std::byte{0};

  entries_.resize(container.expert_ranges().size());
  served_by_runner_.assign(entries_.size(), 0);
  for (const format::ExpertRange& range : container.expert_ranges()) {
    Entry& entry = entries_[size_t{range.layer} * experts_per_layer_ + range.expert];
    entry.range = &range;
    entry.w1 = *range.w1;
    entry.w3 = *range.w3;
    entry.w2 = *range.w2;
    entry.weights = {&entry.w1, &entry.w3, &entry.w2};
  }
}

ExpertCache::~ExpertCache() {
  {
    // Reads in flight write into the slots: wait for them before the memory goes.
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      return std::none_of(slots_.begin(), slots_.end(), [](const Slot& slot) { return slot.state == SlotState::loading; });
    });
  }
  ::munmap(memory_, memory_bytes_);
}

int32_t ExpertCache::assign(size_t key, DirectReader::Priority priority, bool avoid_prefetched) {
  int32_t chosen = -1;
  for (size_t s = 0; s < slots_.size() && chosen < 0; ++s) {
    if (slots_[s].state == SlotState::empty) chosen = static_cast<int32_t>(s);
  }
  const auto free = [](const Slot& slot) { return slot.state != SlotState::loading && slot.pins == 0 && slot.kept == 0; };
  // The runner serves it: nobody will ask for it while it does (set_served_by_runner).
  for (size_t s = 0; s < slots_.size() && chosen < 0; ++s) {
    if (slots_[s].state != SlotState::empty && free(slots_[s]) && served_by_runner_[slots_[s].key]) {
      chosen = static_cast<int32_t>(s);
      entries_[slots_[s].key].slot = -1;
    }
  }
  if (chosen < 0) {
    std::vector<size_t> candidates, candidate_slots;
    for (const bool prefetched : {false, true}) {
      if (prefetched && (avoid_prefetched || !candidates.empty())) break;
      for (size_t s = 0; s < slots_.size(); ++s) {
        const Slot& slot = slots_[s];
        if (!free(slot) || slot.prefetched != prefetched) continue;
        candidates.push_back(slot.key);
        candidate_slots.push_back(s);
      }
    }
    if (candidates.empty()) return -1;
    chosen = static_cast<int32_t>(candidate_slots[policy_.choose_victim(candidates)]);
    entries_[slots_[size_t(chosen)].key].slot = -1;
  }
  Slot& slot = slots_[size_t(chosen)];
  slot = Slot{};
  slot.key = key;
  slot.state = SlotState::loading;
  Entry& entry = entries_[key];
  entry.slot = chosen;
  std::byte* base = memory_ + uint64_t(chosen) * slot_bytes_;
  for (format::TensorView* view : {&entry.w1, &entry.w3, &entry.w2}) {
    view->data = base + (view->offset - entry.range->offset);
  }
  reader_.read(entry.range->offset, entry.range->bytes, base, priority,
               [this, chosen](const std::string& error) { read_finished(chosen, error); });
  return chosen;
}

void ExpertCache::read_finished(int32_t slot_index, const std::string& error) {
  // Notified under the lock: the destructor waits for the last read's state change and then
  // destroys the condition variable, which must not still be in this reader thread's hands.
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[size_t(slot_index)];
  slot.state = error.empty() ? SlotState::ready : SlotState::failed;
  slot.error = error;
  changed_.notify_all();
}

void ExpertCache::request(uint32_t layer, std::span<const uint32_t> experts, std::span<uint8_t> slotted) {
  std::lock_guard lock(mutex_);
  std::vector<uint32_t>& predicted = predicted_[layer];
  if (!predicted.empty() && !experts.empty()) {
    size_t correct = 0;
    for (const uint32_t e : experts) correct += std::count(predicted.begin(), predicted.end(), e);
    stats_.lookahead_checked += experts.size();
    stats_.lookahead_correct += correct;
    lookahead_accuracy_ += kAccuracyWeight * (double(correct) / double(experts.size()) - lookahead_accuracy_);
    predicted.clear();
  }
  for (uint32_t e = 0; e < experts_per_layer_; ++e) {  // this layer's reads ahead have had their chance
    const int32_t s = entries_[size_t{layer} * experts_per_layer_ + e].slot;
    if (s >= 0) slots_[size_t(s)].prefetched = false;
  }
  // Hits first, so that a miss's eviction never takes an expert this same step wants.
  for (size_t i = 0; i < experts.size(); ++i) {
    const size_t key = size_t{layer} * experts_per_layer_ + experts[i];
    ++stats_.chosen;
    slotted[i] = 0;
    const int32_t s = entries_[key].slot;
    if (s < 0) continue;
    Slot& slot = slots_[size_t(s)];
    if (slot.state == SlotState::failed && slot.kept == 0 && slot.pins == 0) {  // try again, at demand priority
      entries_[key].slot = -1;
      slot = Slot{};
      continue;
    }
    ++stats_.hits;
    ++slot.kept;
    slotted[i] = 1;
  }
  for (size_t i = 0; i < experts.size(); ++i) {
    if (slotted[i]) continue;
    const size_t key = size_t{layer} * experts_per_layer_ + experts[i];
    const int32_t s = assign(key, DirectReader::Priority::demand, false);
    if (s < 0) break;  // the rest wait for slots in fetch()
    ++slots_[size_t(s)].kept;
    slotted[i] = 1;
  }
}

const model::ExpertWeights& ExpertCache::fetch(uint32_t layer, uint32_t expert, bool kept) {
  const size_t key = size_t{layer} * experts_per_layer_ + expert;
  std::unique_lock lock(mutex_);
  Entry& entry = entries_[key];
  const auto started = std::chrono::steady_clock::now();
  bool waited = false;
  if (!kept || entry.slot < 0) {  // no slot was free at request(), or it was not requested: keep it from here
    // Another caller may read it meanwhile: never a second slot for one expert.
    while (entry.slot < 0 && assign(key, DirectReader::Priority::demand, false) < 0) {
      waited = true;
      changed_.wait(lock);
    }
    ++slots_[size_t(entry.slot)].kept;
  }
  if (slots_[size_t(entry.slot)].state == SlotState::loading) {
    waited = true;
    changed_.wait(lock, [&] { return slots_[size_t(entry.slot)].state != SlotState::loading; });
  }
  if (waited) stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  Slot& slot = slots_[size_t(entry.slot)];
  --slot.kept;
  if (slot.state == SlotState::failed) {
    const std::string error = slot.error;
    if (slot.kept == 0 && slot.pins == 0) {  // the next request reads it again
      entry.slot = -1;
      slot = Slot{};
    }
    changed_.notify_all();
    throw Error(container_.path(), "reading expert " + std::to_string(expert) + " of layer " + std::to_string(layer) +
                                       ": " + error);
  }
  ++slot.pins;
  return entry.weights;
}

void ExpertCache::release(uint32_t layer, uint32_t expert) {
  {
    std::lock_guard lock(mutex_);
    const int32_t s = entries_[size_t{layer} * experts_per_layer_ + expert].slot;
    if (s >= 0 && slots_[size_t(s)].pins > 0) --slots_[size_t(s)].pins;
  }
  changed_.notify_all();
}

void ExpertCache::abandon(uint32_t layer, std::span<const uint32_t> experts) {
  {
    std::lock_guard lock(mutex_);
    for (const uint32_t e : experts) {
      const int32_t s = entries_[size_t{layer} * experts_per_layer_ + e].slot;
      if (s >= 0 && slots_[size_t(s)].kept > 0) --slots_[size_t(s)].kept;
    }
  }
  changed_.notify_all();
}

void ExpertCache::prefetch(uint32_t layer, std::span<const uint32_t> experts) {
  std::lock_guard lock(mutex_);
  predicted_[layer].assign(experts.begin(), experts.end());
  if (lookahead_accuracy_ < kMinLookaheadAccuracy) return;  // scored, not read: see the header
  for (const uint32_t e : experts) {
    const size_t key = size_t{layer} * experts_per_layer_ + e;
    if (entries_[key].slot >= 0 || served_by_runner_[key]) continue;  // the device runs those
    const int32_t s = assign(key, DirectReader::Priority::prefetch, true);
    if (s < 0) return;  // every slot is held: the step will read what it needs on demand
    slots_[size_t(s)].prefetched = true;
    ++stats_.lookahead_reads;
  }
}

void ExpertCache::set_served_by_runner(uint32_t layer, uint32_t expert, bool served) {
  {
    std::lock_guard lock(mutex_);
    const size_t key = size_t{layer} * experts_per_layer_ + expert;
    served_by_runner_[key] = served ? 1 : 0;
    const int32_t s = entries_[key].slot;
    if (!served || s < 0) return;
    Slot& slot = slots_[size_t(s)];
    if (slot.state == SlotState::loading || slot.pins > 0 || slot.kept > 0) return;  // assign() takes it first later
    entries_[key].slot = -1;
    slot = Slot{};
  }
  changed_.notify_all();  // a fetch may be waiting for a slot
}

bool ExpertCache::holds(uint32_t layer, uint32_t expert) const {
  std::lock_guard lock(mutex_);
  return entries_[size_t{layer} * experts_per_layer_ + expert].slot >= 0;
}

ExpertCacheStats ExpertCache::stats() const {
  std::lock_guard lock(mutex_);
  ExpertCacheStats stats = stats_;
  stats.bytes_read = reader_.bytes_read();
  stats.read_seconds = reader_.busy_seconds();
  return stats;
}

}  // namespace smoe::backend
