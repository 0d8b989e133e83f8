// `--expert-bits auto`: per-expert types chosen from calibration routing frequencies, at the
// size the recipe's uniform expert type would take.
//
// An expert's quantization error only matters for the tokens routed to it, so its expected
// contribution is (fraction of the layer's tokens routed to it) x (its weights' relative
// squared error in the chosen type) x (its weight count). The planner minimises the sum of
// those over all experts subject to the total expert bytes not exceeding the uniform recipe's,
// choosing among q3k, q4k, q6k and q8 (after each tensor's short-row fallback). It solves
// the Lagrangian relaxation (each expert independently minimises error + lambda x bytes,
// lambda bisected to meet the budget), then spends what budget is left on the upgrades with
// the best error saved per byte. `--expert-bits ram=SIZE` (expert_tiers.h) builds on the same
// pieces, declared below.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "convert/importance_matrix.h"
#include "convert/recipe.h"
#include "format/tensor_schema.h"
#include "smoe/hyperparameters.h"

namespace smoe::convert {

// What `--expert-bits` asks for.
struct ExpertBitsTarget {
  enum class Kind { uniform, automatic, ram };
  Kind kind = Kind::uniform;
  uint64_t ram_bytes = 0;  // ram: the memory budget the experts are tiered for
  std::string spelling;    // as given ("uniform", "auto", "ram=12G"), recorded in the recipe
};

// Parses "uniform", "auto" or "ram=SIZE", SIZE as --ram reads it (bytes, or a number with K, M,
// G or T, all 1024-based: 12G, 300M, 64GiB). Throws smoe::Error naming --expert-bits.
ExpertBitsTarget parse_expert_bits(const std::string& text);

struct ExpertBitsSummary {
  uint64_t uniform_bytes = 0;     // experts' bytes in the recipe's uniform type
  uint64_t planned_bytes = 0;     // after planning (<= uniform_bytes)
  double uniform_error = 0;       // the objective above, uniform type
  double planned_error = 0;       // and planned
  std::map<std::string, uint32_t> experts_per_type;
};

// Fills recipe.expert_types from the "routing.L" counts of `imatrix`. Throws smoe::Error
// naming `imatrix_path` when the counts are missing or do not match the model.
ExpertBitsSummary plan_expert_bits(const std::vector<format::TensorSpec>& specs, const ImportanceMatrix& imatrix,
                                   const std::string& imatrix_path, Recipe& recipe);

// The recipe's "routing_profile", which seeds the runtime's routing statistics (so its tiers,
// the expert cache and an accelerator, place the hottest experts before the first token): one
// array of per-expert routing fractions per layer of `hp`; null unless every layer has counts.
nlohmann::json routing_profile_json(const ImportanceMatrix& imatrix, const Hyperparameters& hp);

// Relative mean squared error of `type` on Gaussian weights (measured once, cached).
double relative_squared_error(quant::TensorType type);

// The planner's pieces.

// One expert in one candidate type.
struct ExpertOption {
  quant::TensorType type;    // as Recipe::expert_types records it (before short-row fallbacks)
  uint64_t bytes = 0;        // its three matrices, after the fallbacks
  uint64_t range_bytes = 0;  // its range in the file: w1, w3, w2 each starting 64-byte aligned
  double error = 0;          // routing fraction x relative squared error x weights
};

struct ExpertCandidates {
  int32_t layer = 0, expert = 0;
  double frequency = 0;               // fraction of its layer's routing choices
  std::vector<ExpertOption> options;  // q3k, q4k, q6k, q8 (and the uniform type), by increasing bytes
  size_t uniform = 0;                 // index of the recipe's uniform type
};

// Every expert's options, ordered by (layer, expert), from the routing counts of `imatrix`
// (throws as plan_expert_bits).
std::vector<ExpertCandidates> expert_candidates(const std::vector<format::TensorSpec>& specs,
                                                const ImportanceMatrix& imatrix, const std::string& imatrix_path,
                                                const Recipe& recipe);

// One option index per expert with the smallest total error whose bytes stay within
// `budget_bytes` (the smallest options when even they exceed it).
std::vector<size_t> allocate_expert_bytes(const std::vector<ExpertCandidates>& experts, uint64_t budget_bytes);

// Writes `chosen` (one option index per expert) into recipe.expert_types and sums it up.
ExpertBitsSummary record_expert_types(const std::vector<ExpertCandidates>& experts, const std::vector<size_t>& chosen,
                                      Recipe& recipe);

}  // namespace smoe::convert
