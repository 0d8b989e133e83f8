// Where the CPU's experts come from when they are not all in memory: an expert cache that reads
// them from disk on demand (backend/expert_cache.h implements it). The model owns this
// interface, so the forward pass knows nothing of files or slots. Per MoE step the forward pass
// announces the experts its batch chose (reads start for those not in memory), fetches each
// before running it and releases it after, and may name the experts it expects the next layer to
// choose, so their reads overlap this layer's compute. An ExpertRunner above it (the device
// tier) reads the experts it uploads through it too, and says which it serves: the store keeps
// its memory for the others.
#pragma once

#include <cstdint>
#include <span>

#include "model/model_weights.h"

namespace smoe::model {

class ExpertStore {
 public:
  virtual ~ExpertStore() = default;
  // The experts (ascending, distinct) a batch chose at `layer`: reads start for those not in
  // memory, as far as free slots allow, and those in memory are kept until fetched. `slotted`
  // (one per expert) gets 1 where the expert is in memory or being read: fetch those first, so
  // that a caller waiting for a slot holds none.
  virtual void request(uint32_t layer, std::span<const uint32_t> experts, std::span<uint8_t> slotted) = 0;
  // Waits until the expert is in memory (reading it now if it has no slot) and keeps it there
  // until release(). `kept`: request() slotted it for this caller. Its views point into the
  // cache. Throws smoe::Error naming the file when the read failed.
  virtual const ExpertWeights& fetch(uint32_t layer, uint32_t expert, bool kept) = 0;
  virtual void release(uint32_t layer, uint32_t expert) = 0;
  // Experts request()ed but never fetched (an error interrupted the step): no longer kept.
  virtual void abandon(uint32_t layer, std::span<const uint32_t> experts) = 0;
  // The experts `layer` will probably choose (lookahead): read them into free slots at a lower
  // priority than requests; never waits and never evicts what a request keeps.
  virtual void prefetch(uint32_t layer, std::span<const uint32_t> experts) = 0;
  virtual bool wants_lookahead() const = 0;
  // The runner above now serves (layer, expert), or no longer does: the forward pass will not
  // ask for it while it does, so its memory goes first (freed at once where nobody holds it).
  virtual void set_served_by_runner(uint32_t layer, uint32_t expert, bool served) = 0;
};

}  // namespace smoe::model
