// Precision by tier: the hot experts the expert cache will hold keep their bits, the rest go to
// q3k (see expert_tiers.h).
#include "convert/expert_tiers.h"

#include <algorithm>
#include <numeric>

#include "backend/expert_cache.h"
#include "runtime/weight_placement.h"

namespace smoe::convert {

using quant::TensorType;

namespace {

struct TierPlan {
  std::vector<size_t> chosen;  // option index per expert
  uint32_t hot = 0;
  uint64_t largest_range = 0;
  double error = 0;
};

size_t option_of(const ExpertCandidates& expert, TensorType type) {
  for (size_t o = 0; o < expert.options.size(); ++o) {
    if (expert.options[o].type == type) return o;
  }
  return expert.uniform;
}

uint64_t largest_range(const std::vector<ExpertCandidates>& experts, const std::vector<size_t>& chosen) {
  uint64_t largest = 0;
  for (size_t e = 0; e < experts.size(); ++e) largest = std::max(largest, experts[e].options[chosen[e]].range_bytes);
  return largest;
}

double total_error(const std::vector<ExpertCandidates>& experts, const std::vector<size_t>& chosen) {
  double error = 0;
  for (size_t e = 0; e < experts.size(); ++e) error += experts[e].options[chosen[e]].error;
  return error;
}

// The `hot` first experts of `order` planned among the types from the recipe's up to `cap`
// (from q3k when every expert is hot: nothing is read from disk, so the auto planner's whole
// range applies), the others in q3k, within the uniform recipe's bytes.
TierPlan plan_with_cap(const std::vector<ExpertCandidates>& experts, const std::vector<size_t>& order, uint32_t hot,
                       TensorType cap, uint64_t uniform_bytes) {
  const bool all_hot = hot == experts.size();
  const double cap_bits = quant::bits_per_weight(cap);
  std::vector<ExpertCandidates> hot_experts;
  std::vector<std::vector<size_t>> original_index;  // per hot expert: its options' indices in `experts`
  uint64_t cold_bytes = 0;
  TierPlan plan;
  plan.chosen.assign(experts.size(), 0);
  plan.hot = hot;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const ExpertCandidates& expert = experts[order[rank]];
    if (rank >= hot) {
      plan.chosen[order[rank]] = option_of(expert, TensorType::q3k);
      cold_bytes += expert.options[plan.chosen[order[rank]]].bytes;
      continue;
    }
    const double floor_bits = quant::bits_per_weight(expert.options[expert.uniform].type);
    ExpertCandidates& restricted = hot_experts.emplace_back(expert);
    restricted.options.clear();
    restricted.uniform = 0;  // the full list's index no longer applies (the allocation does not read it)
    std::vector<size_t>& index = original_index.emplace_back();
    for (size_t o = 0; o < expert.options.size(); ++o) {
      const double bits = quant::bits_per_weight(expert.options[o].type);
      if (bits > cap_bits || (!all_hot && bits < floor_bits)) continue;
      restricted.options.push_back(expert.options[o]);
      index.push_back(o);
    }
  }
  const std::vector<size_t> hot_chosen =
      allocate_expert_bytes(hot_experts, uniform_bytes - std::min(uniform_bytes, cold_bytes));
  for (size_t rank = 0; rank < hot_experts.size(); ++rank) {
    plan.chosen[order[rank]] = original_index[rank][hot_chosen[rank]];
  }
  plan.largest_range = largest_range(experts, plan.chosen);
  plan.error = total_error(experts, plan.chosen);
  return plan;
}

}  // namespace

ExpertTierBudget runtime_default_budget(uint64_t ram_bytes, const Hyperparameters& hp) {
  const ModelOptions runtime;
  return {.ram_bytes = ram_bytes,
          .kv_cache_bytes = session_kv_cache_bytes(hp, session_context(hp, runtime), runtime.kv_type)};
}

ExpertTiersSummary plan_expert_tiers(const std::vector<format::TensorSpec>& specs, const ImportanceMatrix& imatrix,
                                     const std::string& imatrix_path, const ExpertTierBudget& budget,
                                     const std::string& spelling, Recipe& recipe) {
  const std::vector<ExpertCandidates> experts = expert_candidates(specs, imatrix, imatrix_path, recipe);
  const auto experts_count = static_cast<uint32_t>(experts.size());
  // The runtime's arithmetic (weight_placement.h) for a file whose largest expert range is `range`.
  const auto slots_for = [&](uint64_t range) {
    return expert_slots_that_fit(budget.ram_bytes, {.non_expert_bytes = budget.non_expert_bytes,
                                                    .expert_slot_bytes = backend::ExpertCache::slot_bytes(range),
                                                    .kv_cache_bytes = budget.kv_cache_bytes,
                                                    .experts = experts_count});
  };
  uint64_t uniform_bytes = 0;
  for (const ExpertCandidates& expert : experts) uniform_bytes += expert.options[expert.uniform].bytes;

  // Everything fits as the plain auto plan has it: nothing is read from disk, keep that plan.
  TierPlan best;
  best.chosen = allocate_expert_bytes(experts, uniform_bytes);
  best.largest_range = largest_range(experts, best.chosen);
  best.hot = experts_count;
  if (slots_for(best.largest_range) < experts_count) {
    // Hottest first; ties in (layer, expert) order, so the plan is reproducible.
    std::vector<size_t> order(experts.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return experts[a].frequency > experts[b].frequency; });
    const TensorType uniform_type = recipe.types.at(format::TensorGroup::experts);
    bool found = false;
    for (TensorType cap : {uniform_type, TensorType::q4k, TensorType::q6k, TensorType::q8}) {
      if (quant::bits_per_weight(cap) <= quant::bits_per_weight(uniform_type) && cap != uniform_type) continue;
      uint64_t cap_range = 0;
      for (const ExpertCandidates& expert : experts) {
        cap_range = std::max(cap_range, expert.options[option_of(expert, cap)].range_bytes);
      }
      const uint32_t hot = slots_for(cap_range);
      TierPlan plan = plan_with_cap(experts, order, hot, cap, uniform_bytes);
      if (hot < experts_count && slots_for(plan.largest_range) != hot) continue;
      if (!found || plan.error < best.error) best = std::move(plan);
      found = true;
    }
  }

  ExpertTiersSummary summary;
  summary.bits = record_expert_types(experts, best.chosen, recipe);
  summary.spelling = spelling.empty() ? "ram=" + std::to_string(budget.ram_bytes) : spelling;
  recipe.expert_bits = summary.spelling;
  summary.experts = experts_count;
  summary.hot_experts = best.hot;
  summary.slot_bytes = backend::ExpertCache::slot_bytes(best.largest_range);
  summary.slots = slots_for(best.largest_range);
  summary.budget = budget;
  return summary;
}

ExpertTiersSummary plan_expert_tiers_for_file(const std::vector<format::TensorSpec>& specs,
                                              const ImportanceMatrix& imatrix, const std::string& imatrix_path,
                                              ExpertTierBudget budget, const std::string& spelling,
                                              const NonExpertBytes& non_expert_bytes, Recipe& recipe) {
  ExpertTiersSummary summary;
  for (int round = 0; round < 4; ++round) {
    summary = plan_expert_tiers(specs, imatrix, imatrix_path, budget, spelling, recipe);
    const uint64_t measured = non_expert_bytes(recipe, summary);
    if (measured == budget.non_expert_bytes) break;
    budget.non_expert_bytes = measured;
  }
  return summary;
}

nlohmann::json expert_tiers_json(const ExpertTiersSummary& tiers) {
  return {{"ram_bytes", tiers.budget.ram_bytes},
          {"hot_experts", tiers.hot_experts},
          {"experts", tiers.experts},
          {"slots", tiers.slots},
          {"slot_bytes", tiers.slot_bytes},
          {"non_expert_bytes", tiers.budget.non_expert_bytes},
          {"kv_cache_bytes", tiers.budget.kv_cache_bytes}};
}

}  // namespace smoe::convert
