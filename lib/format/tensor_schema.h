// The tensors a Mixtral-family model consists of: canonical names, shapes (from the
// hyperparameters alone) and the recipe group each belongs to. The converter writes exactly
// these; the loader requires exactly these.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smoe/hyperparameters.h"

namespace smoe::format {

// Groups a quantization recipe assigns types to.
enum class TensorGroup { embeddings, attention, norms, router, experts, output };
std::string_view group_name(TensorGroup group);

struct TensorSpec {
  std::string name;             // e.g. "layers.3.experts.5.w1"
  TensorGroup group;
  std::vector<uint64_t> shape;  // outermost first: (rows, row_elements) for matrices
  int32_t layer = -1;           // -1 for tensors outside the layers
  int32_t expert = -1;          // -1 for tensors outside the experts
};

// In file order: token embeddings; per layer the attention norm, wq, wk, wv, wo, the FFN norm,
// the router, then each expert's w1, w3, w2; the final norm and the output projection.
//   token_embd              (vocab, dim)
//   layers.L.attn_norm      (dim)
//   layers.L.attn.{q,k,v,o} (heads*head_dim, dim) (kv*head_dim, dim) x2 (dim, heads*head_dim)
//   layers.L.ffn_norm       (dim)
//   layers.L.router         (experts, dim)
//   layers.L.experts.E.w1   (ffn, dim)   gate projection
//   layers.L.experts.E.w3   (ffn, dim)   up projection
//   layers.L.experts.E.w2   (dim, ffn)   down projection
//   output_norm             (dim)
//   output                  (vocab, dim)
std::vector<TensorSpec> mixtral_tensor_specs(const Hyperparameters& hp);

std::string expert_tensor_name(uint32_t layer, uint32_t expert, std::string_view matrix);

}  // namespace smoe::format
