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
// the best error saved per byte.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "convert/importance_matrix.h"
#include "convert/recipe.h"
#include "format/tensor_schema.h"

namespace smoe::convert {

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

// Relative mean squared error of `type` on Gaussian weights (measured once, cached).
double relative_squared_error(quant::TensorType type);

}  // namespace smoe::convert
