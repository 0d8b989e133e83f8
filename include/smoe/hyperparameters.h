// Hyperparameters of a Mixtral-family model, named as in Hugging Face's config.json.
#pragma once

#include <cstdint>

namespace smoe {

struct Hyperparameters {
  uint32_t hidden_size = 0;              // model width (dim)
  uint32_t intermediate_size = 0;        // hidden width of one SwiGLU expert
  uint32_t num_hidden_layers = 0;        // transformer blocks
  uint32_t num_attention_heads = 0;      // query heads
  uint32_t num_key_value_heads = 0;      // KV heads (grouped-query attention; 1 = MQA)
  uint32_t head_dim = 0;                 // width of one attention head
  uint32_t num_local_experts = 0;        // experts per layer
  uint32_t num_experts_per_tok = 0;      // experts the router picks per token (top-k)
  uint32_t vocab_size = 0;               // rows of the embedding and output matrices
  uint32_t max_position_embeddings = 0;  // longest context the model was trained for
  uint32_t sliding_window = 0;           // attention window in tokens; 0 = full attention
  uint32_t bos_token_id = 1;             // beginning-of-sequence token
  uint32_t eos_token_id = 2;             // end-of-sequence token (ends generation)
  double rope_theta = 1e6;               // RoPE base frequency
  double rms_norm_eps = 1e-5;            // epsilon of every RMSNorm
};

}  // namespace smoe
