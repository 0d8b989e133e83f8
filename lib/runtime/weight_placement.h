// Where a model's weights live, decided once at load from the memory budget: read into memory,
// mapped, or everything but the experts read in and the experts in an expert cache.
#pragma once

#include <cstdint>
#include <string>

#include "smoe/hyperparameters.h"
#include "smoe/options.h"
#include "util/memory.h"

namespace smoe {

struct WeightSizes {
  uint64_t file_bytes = 0;
  uint64_t non_expert_bytes = 0;   // outside the expert ranges
  uint64_t expert_slot_bytes = 0;  // one expert cache slot (the largest expert range)
  uint64_t kv_cache_bytes = 0;     // the planned sessions' (ModelOptions::planned_sessions)
  uint32_t experts = 0;            // layers * experts per layer
  uint32_t experts_per_token = 0;  // per layer (top-k)
};

struct WeightPlacement {
  WeightLoading loading = WeightLoading::map;  // map, read or expert_cache, never automatic
  uint32_t expert_slots = 0;                   // expert_cache only
};

// Memory kept free beside an expert cache's slots for activations, scratch and the code (the
// KV cache is counted separately).
inline constexpr uint64_t kExpertCacheReserve = uint64_t{256} << 20;

// The context a session of `options` gets: options.context_size, or min(the model's maximum,
// 4096) when it is 0.
uint32_t session_context(const Hyperparameters& hp, const ModelOptions& options);

// One session's KV cache at `context` positions in `type` (0 when the size overflows).
uint64_t session_kv_cache_bytes(const Hyperparameters& hp, uint32_t context, KvType type);

// Expert slots a budget of `budget_bytes` holds after the rest of the file, the KV cache and
// kExpertCacheReserve (at most sizes.experts; 0 when nothing is left). The expert cache's size
// without --expert-slots, and what the converter plans `--expert-bits ram=SIZE` files for.
uint32_t expert_slots_that_fit(uint64_t budget_bytes, const WeightSizes& sizes);

// Whether automatic loading reads a file of `file_bytes` into memory under `budget`: when the
// file plus max(1 GiB, 1/8 of it) fits (room beside it for activations, scratch and the rest).
bool read_fits(uint64_t file_bytes, const MemoryBudget& budget);

// options.weight_loading resolved against the budget:
//   read: the file, refused when it exceeds the budget;
//   expert_cache: options.expert_cache_slots, or as many slots as the budget holds after the
//     rest of the file, the KV cache and kExpertCacheReserve (refused below one slot);
//   automatic: read when read_fits; else the expert cache when
//     it gets at least experts_per_token slots; else map.
// Throws smoe::Error(path, ...) for a choice that cannot fit.
WeightPlacement place_weights(const ModelOptions& options, const MemoryBudget& budget, const WeightSizes& sizes,
                              const std::string& path);

}  // namespace smoe
