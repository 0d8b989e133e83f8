// Canonical tensor list of a Mixtral-family model.
#include "format/tensor_schema.h"

namespace smoe::format {

std::string_view group_name(TensorGroup group) {
  switch (group) {
    case TensorGroup::embeddings: return "embeddings";
    case TensorGroup::attention: return "attn";
    case TensorGroup::norms: return "norms";
    case TensorGroup::router: return "router";
    case TensorGroup::experts: return "experts";
    case TensorGroup::output: return "output";
  }
  return "?";
}

std::string expert_tensor_name(uint32_t layer, uint32_t expert, std::string_view matrix) {
  return "layers." + std::to_string(layer) + ".experts." + std::to_string(expert) + "." + std::string(matrix);
}

std::vector<TensorSpec> mixtral_tensor_specs(const Hyperparameters& hp) {
  const uint64_t dim = hp.hidden_size;
  const uint64_t q_rows = uint64_t{hp.num_attention_heads} * hp.head_dim;
  const uint64_t kv_rows = uint64_t{hp.num_key_value_heads} * hp.head_dim;
  const uint64_t ffn = hp.intermediate_size;
  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd", TensorGroup::embeddings, {hp.vocab_size, dim}});
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    const std::string prefix = "layers." + std::to_string(layer) + ".";
    const auto l = static_cast<int32_t>(layer);
    specs.push_back({prefix + "attn_norm", TensorGroup::norms, {dim}, l});
    specs.push_back({prefix + "attn.q", TensorGroup::attention, {q_rows, dim}, l});
    specs.push_back({prefix + "attn.k", TensorGroup::attention, {kv_rows, dim}, l});
    specs.push_back({prefix + "attn.v", TensorGroup::attention, {kv_rows, dim}, l});
    specs.push_back({prefix + "attn.o", TensorGroup::attention, {dim, q_rows}, l});
    specs.push_back({prefix + "ffn_norm", TensorGroup::norms, {dim}, l});
    specs.push_back({prefix + "router", TensorGroup::router, {hp.num_local_experts, dim}, l});
    for (uint32_t expert = 0; expert < hp.num_local_experts; ++expert) {
      const auto e = static_cast<int32_t>(expert);
      specs.push_back({expert_tensor_name(layer, expert, "w1"), TensorGroup::experts, {ffn, dim}, l, e});
      specs.push_back({expert_tensor_name(layer, expert, "w3"), TensorGroup::experts, {ffn, dim}, l, e});
      specs.push_back({expert_tensor_name(layer, expert, "w2"), TensorGroup::experts, {dim, ffn}, l, e});
    }
  }
  specs.push_back({"output_norm", TensorGroup::norms, {dim}});
  specs.push_back({"output", TensorGroup::output, {hp.vocab_size, dim}});
  return specs;
}

}  // namespace smoe::format
