// Hyperparameters of a small Mixtral-shaped model (2 layers, 8 experts, top-2), for tests that
// plan tensors and types without weights.
#pragma once

#include <cstdint>

#include "smoe/hyperparameters.h"

namespace smoe::test {

inline Hyperparameters small_moe_model(uint32_t hidden = 512, uint32_t ffn = 1024) {
  Hyperparameters hp;
  hp.hidden_size = hidden;
  hp.intermediate_size = ffn;
  hp.num_hidden_layers = 2;
  hp.num_attention_heads = 4;
  hp.num_key_value_heads = 2;
  hp.head_dim = 128;
  hp.num_local_experts = 8;
  hp.num_experts_per_tok = 2;
  hp.vocab_size = 1000;
  hp.max_position_embeddings = 256;
  return hp;
}

}  // namespace smoe::test
