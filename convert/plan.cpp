// Planning the tensors of a container.
#include "convert/plan.h"

#include "format/metadata.h"
#include "format/panels.h"

namespace smoe::convert {

std::vector<PlannedTensor> plan_model(const std::vector<format::TensorSpec>& specs, const Recipe& recipe,
                                      uint64_t tokenizer_bytes, uint64_t max_panel_columns, bool interleave) {
  std::vector<PlannedTensor> plan;
  plan.reserve(specs.size() + 1);
  for (const format::TensorSpec& spec : specs) {
    PlannedTensor& tensor =
        plan.emplace_back(PlannedTensor{spec.name, recipe.type_for(spec), spec.shape, spec.layer, spec.expert});
    const std::optional<quant::TensorType> interleaved = quant::interleaved_type(tensor.type);
    if (interleave && interleaved && tensor.shape.size() == 2 &&
        tensor.shape[0] % quant::type_traits(*interleaved).row_group == 0 &&
        spec.group != format::TensorGroup::embeddings) {
      tensor.type = *interleaved;
    }
    if (tensor.shape.size() == 2) {
      tensor.panel_columns = format::choose_panel_columns(tensor.type, tensor.shape[1], max_panel_columns);
    }
  }
  plan.push_back({format::kTokenizerTensor, quant::TensorType::u8, {tokenizer_bytes}});
  return plan;
}

double plan_bits_per_weight(const std::vector<PlannedTensor>& plan) {
  double bits = 0, weights = 0;
  for (const PlannedTensor& tensor : plan) {
    if (tensor.type == quant::TensorType::u8) continue;
    double elements = 1;
    for (uint64_t dim : tensor.shape) elements *= double(dim);
    weights += elements;
    bits += elements * quant::bits_per_weight(tensor.type);
  }
  return weights > 0 ? bits / weights : 0;
}

}  // namespace smoe::convert
