// Binding canonical tensor names to typed views.
#include "model/model_weights.h"

#include "format/tensor_schema.h"
#include "quant/formats/convert_row.h"

namespace smoe::model {
namespace {

std::vector<float> decode_vector(const format::TensorView& tensor) {
  std::vector<float> values(tensor.shape.back());
  quant::dequantize_row(tensor.type, tensor.data, values.data(), values.size());
  return values;
}

}  // namespace

ModelWeights ModelWeights::bind(const format::Container& container) {
  const Hyperparameters& hp = container.metadata().hyperparameters;
  ModelWeights weights;
  weights.token_embd = &container.require("token_embd");
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    const std::string prefix = "layers." + std::to_string(layer) + ".";
    LayerWeights& l = weights.layers.emplace_back();
    l.attn_norm = decode_vector(container.require(prefix + "attn_norm"));
    l.wq = &container.require(prefix + "attn.q");
    l.wk = &container.require(prefix + "attn.k");
    l.wv = &container.require(prefix + "attn.v");
    l.wo = &container.require(prefix + "attn.o");
    l.ffn_norm = decode_vector(container.require(prefix + "ffn_norm"));
    l.router = &container.require(prefix + "router");
    for (uint32_t expert = 0; expert < hp.num_local_experts; ++expert) {
      const format::ExpertRange& range = container.expert_range(layer, expert);
      l.experts.push_back({range.w1, range.w3, range.w2});
    }
  }
  weights.output_norm = decode_vector(container.require("output_norm"));
  weights.output = &container.require("output");
  return weights;
}

}  // namespace smoe::model
