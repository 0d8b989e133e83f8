// The list of tensors a converter writes: the model's schema with the recipe's types, then the
// embedded tokenizer. Shared by checkpoint conversion and synthetic models.
#pragma once

#include <vector>

#include "convert/container_writer.h"
#include "convert/recipe.h"
#include "model/tensor_schema.h"

namespace smoe::convert {

std::vector<PlannedTensor> plan_model(const std::vector<model::TensorSpec>& specs, const Recipe& recipe,
                                      uint64_t tokenizer_bytes);

// Average bits per weight over every weight tensor (the embedded tokenizer excluded).
double plan_bits_per_weight(const std::vector<PlannedTensor>& plan);

}  // namespace smoe::convert
