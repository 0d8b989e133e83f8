// place_weights: the arithmetic of the load decision.
#include "runtime/weight_placement.h"

#include <algorithm>

#include "model/kv_cache.h"
#include "smoe/error.h"
#include "util/checked_math.h"

namespace smoe {

namespace {

// Slots the budget holds after everything else (0 when unknown or nothing is left).
uint32_t slots_that_fit(const MemoryBudget& budget, const WeightSizes& sizes) {
  return budget.bytes ? expert_slots_that_fit(*budget.bytes, sizes) : 0;
}

}  // namespace

uint32_t session_context(const Hyperparameters& hp, const ModelOptions& options) {
  return options.context_size ? options.context_size : std::min(hp.max_position_embeddings, 4096u);
}

uint64_t session_kv_cache_bytes(const Hyperparameters& hp, uint32_t context, KvType type) {
  const uint64_t kv_width = uint64_t{hp.num_key_value_heads} * hp.head_dim;
  const std::optional<uint64_t> kv_elements =
      checked_mul(checked_mul(hp.num_hidden_layers, context).value_or(0), kv_width);
  return kv_elements ? model::KvCache::bytes_for(hp.num_hidden_layers, context, kv_width, hp.head_dim, type) : 0;
}

uint32_t expert_slots_that_fit(uint64_t budget_bytes, const WeightSizes& sizes) {
  if (sizes.expert_slot_bytes == 0) return 0;
  const uint64_t other = sizes.non_expert_bytes + sizes.kv_cache_bytes + kExpertCacheReserve;
  if (budget_bytes <= other) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(sizes.experts, (budget_bytes - other) / sizes.expert_slot_bytes));
}

bool read_fits(uint64_t file_bytes, const MemoryBudget& budget) {
  const uint64_t reserve = std::max<uint64_t>(uint64_t{1} << 30, file_bytes / 8);
  return budget.bytes && file_bytes + reserve <= *budget.bytes;
}

WeightPlacement place_weights(const ModelOptions& options, const MemoryBudget& budget, const WeightSizes& sizes,
                              const std::string& path) {
  const uint32_t given_slots = std::min(options.expert_cache_slots, sizes.experts);
  switch (options.weight_loading) {
    case WeightLoading::map:
      return {WeightLoading::map};
    case WeightLoading::read:
      require_memory(sizes.file_bytes, budget.bytes, path, "reading the weights into memory",
                     "the budget is " + budget.source + "; map the file (--mmap) or read experts on demand (--expert-cache)");
      return {WeightLoading::read};
    case WeightLoading::expert_cache: {
      if (sizes.experts == 0) throw Error(path, "has no expert ranges to cache");
      const uint32_t slots = given_slots ? given_slots : slots_that_fit(budget, sizes);
      if (slots == 0) {
        throw Error(path, "the memory budget (" + budget.source + ") holds no expert slot of " +
                              std::to_string(sizes.expert_slot_bytes) + " bytes beside the other " +
                              std::to_string(sizes.non_expert_bytes) + " bytes of weights; map the file (--mmap)");
      }
      require_memory(sizes.non_expert_bytes + uint64_t{slots} * sizes.expert_slot_bytes, budget.bytes, path,
                     "the weights outside the experts and " + std::to_string(slots) + " expert slots",
                     "use fewer slots (--expert-slots) or map the file (--mmap)");
      return {WeightLoading::expert_cache, slots};
    }
    case WeightLoading::automatic:
      break;
  }
  if (!budget.bytes) return {WeightLoading::map};
  if (read_fits(sizes.file_bytes, budget)) return {WeightLoading::read};
  const uint32_t slots = given_slots ? given_slots : slots_that_fit(budget, sizes);
  if (sizes.experts > 0 && slots >= std::max<uint32_t>(1, sizes.experts_per_token)) {
    return {WeightLoading::expert_cache, slots};
  }
  return {WeightLoading::map};
}

}  // namespace smoe
