// Typed views of a Mixtral-family model's weights inside a loaded container. No weight matrix
// is copied: views point into the read-only mapping. Norm vectors (a few KB) are decoded to f32.
#pragma once

#include <vector>

#include "format/container.h"

namespace smoe::model {

struct ExpertWeights {
  const format::TensorView* w1;  // gate (ffn, dim)
  const format::TensorView* w3;  // up   (ffn, dim)
  const format::TensorView* w2;  // down (dim, ffn)
};

struct LayerWeights {
  std::vector<float> attn_norm;        // (dim,)
  const format::TensorView* wq;        // (heads * head_dim, dim)
  const format::TensorView* wk;        // (kv_heads * head_dim, dim)
  const format::TensorView* wv;        // (kv_heads * head_dim, dim)
  const format::TensorView* wo;        // (dim, heads * head_dim)
  std::vector<float> ffn_norm;         // (dim,)
  const format::TensorView* router;    // (experts, dim)
  std::vector<ExpertWeights> experts;  // (experts,)
};

struct ModelWeights {
  const format::TensorView* token_embd;  // (vocab, dim)
  std::vector<LayerWeights> layers;
  std::vector<float> output_norm;        // (dim,)
  const format::TensorView* output;      // (vocab, dim)

  // Binds every tensor of the schema; the container has already validated names and shapes.
  static ModelWeights bind(const format::Container& container);
};

}  // namespace smoe::model
