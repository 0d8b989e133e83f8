// `--expert-bits ram=SIZE`: precision by tier, for a model larger than the memory it will run in.
//
// With a memory budget of SIZE the runtime keeps everything but the experts in memory and the
// experts in an expert cache of N slots (runtime/weight_placement.h: expert_slots_that_fit),
// evicting the least frequently routed; the rest are read from disk on each miss. The planner
// computes N as the runtime will for the planned file, ranks the experts by calibration
// routing frequency (the same profile seeds the runtime's replacement statistics, so the cache
// starts out holding exactly this set), keeps the N hottest at the recipe's type or more (the
// auto planner's choice, expert_bits.h, over them) and puts every other expert in q3k (after the
// short-row fallbacks): fewer bytes per miss, with the error where few tokens go. The bytes the
// cold experts save are the hot ones' to spend, so the experts' total stays at or below the
// uniform recipe's, as with `auto`.
//
// A slot holds the largest expert range, so a hot expert in a bigger type makes every slot
// bigger and fewer fit. The planner therefore tries each cap on the hot experts' type (the
// recipe's type, then each larger candidate): the cap fixes the slot size, the slot size N, and
// the hot set gets the auto planner's types up to the cap. A cap whose plan leaves the slots
// smaller than the cap's (no hot expert reached it) is skipped: a smaller cap plans those slots,
// with more of them. The plan with the smallest routed error wins (ties: the smaller cap).
// A budget that holds every expert of the plain auto plan gets that plan; one that holds none
// puts every expert in q3k.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "convert/expert_bits.h"
#include "smoe/hyperparameters.h"

namespace smoe::convert {

// The memory the plan is for, and what the runtime sets beside the expert slots.
struct ExpertTierBudget {
  uint64_t ram_bytes = 0;         // SIZE: what --ram SIZE (or a cgroup's limit) gives the runtime
  uint64_t non_expert_bytes = 0;  // the planned file's bytes outside the expert ranges
  uint64_t kv_cache_bytes = 0;    // one session at the runtime's default context and KV type
};

// The budget of `ram_bytes` for a model of `hp` with one session at the runtime's default
// context and KV type (ModelOptions{}); non_expert_bytes is left for the caller to measure.
ExpertTierBudget runtime_default_budget(uint64_t ram_bytes, const Hyperparameters& hp);

struct ExpertTiersSummary {
  std::string spelling;  // the target as given: "ram=24G"
  ExpertBitsSummary bits;
  uint32_t experts = 0;      // layers x experts per layer
  uint32_t hot_experts = 0;  // the hottest experts, at the recipe's type or more
  uint32_t slots = 0;        // expert cache slots the budget holds for the planned file
  uint64_t slot_bytes = 0;   // one slot: the largest planned expert range, rounded up to 2 MiB
  ExpertTierBudget budget;   // what the plan was made for
};

// Fills recipe.expert_types (and expert_bits = `spelling`) from the "routing.L" counts of
// `imatrix` for `budget`. Throws as plan_expert_bits.
ExpertTiersSummary plan_expert_tiers(const std::vector<format::TensorSpec>& specs, const ImportanceMatrix& imatrix,
                                     const std::string& imatrix_path, const ExpertTierBudget& budget,
                                     const std::string& spelling, Recipe& recipe);

// The bytes outside the expert ranges of the file `recipe` would be written as, with `tiers`
// recorded in its metadata (the converter's layout: metadata, tables, padding, other tensors).
using NonExpertBytes = std::function<uint64_t(const Recipe& recipe, const ExpertTiersSummary& tiers)>;

// plan_expert_tiers for the file it plans: the metadata records the plan, and the padding
// before each expert range depends on the ranges' sizes, so the file's non-expert bytes are
// measured again after planning, and the plan is made again with them until they agree
// (at most four rounds; the last plan is kept). `budget.non_expert_bytes` is the first guess.
ExpertTiersSummary plan_expert_tiers_for_file(const std::vector<format::TensorSpec>& specs,
                                              const ImportanceMatrix& imatrix, const std::string& imatrix_path,
                                              ExpertTierBudget budget, const std::string& spelling,
                                              const NonExpertBytes& non_expert_bytes, Recipe& recipe);

// The recipe's "expert_tiers" entry: budget, slots, hot experts.
nlohmann::json expert_tiers_json(const ExpertTiersSummary& tiers);

}  // namespace smoe::convert
