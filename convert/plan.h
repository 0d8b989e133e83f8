// The list of tensors a converter writes: the model's schema with the recipe's types, then the
// embedded tokenizer. Shared by checkpoint conversion and synthetic models.
#pragma once

#include <vector>

#include "convert/container_writer.h"
#include "convert/recipe.h"
#include "format/tensor_schema.h"

namespace smoe::convert {

// Matrices wider than this many columns are stored in column panels by default (format/panels.h:
// the activations of one panel, 4-5 KB at 8 bits, stay in L1 while its weights stream past).
inline constexpr uint64_t kDefaultPanelColumns = 4096;

// `max_panel_columns`: widest column panel (format::choose_panel_columns); 0 = contiguous rows.
// `interleave`: q4k and q8 matrices the model multiplies (all but the embeddings, which it
// reads row by row) stored as q4k_x8 / q8_x8 (block_q4k_x8.h, block_q8_x8.h: decoding's faster
// layouts) where their rows come in whole groups of 8.
std::vector<PlannedTensor> plan_model(const std::vector<format::TensorSpec>& specs, const Recipe& recipe,
                                      uint64_t tokenizer_bytes, uint64_t max_panel_columns = kDefaultPanelColumns,
                                      bool interleave = false);

// Average bits per weight over every weight tensor (the embedded tokenizer excluded).
double plan_bits_per_weight(const std::vector<PlannedTensor>& plan);

}  // namespace smoe::convert
