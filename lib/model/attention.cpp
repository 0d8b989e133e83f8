// Grouped-query causal self-attention with RoPE and a KV cache (Vaswani et al. 2017;
// Ainslie et al. 2023 for GQA): query head h reads KV head h / (heads / kv_heads).
#include <cmath>

#include "model/transformer.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace smoe::model {

void Transformer::attention(uint32_t layer, size_t n, uint32_t first_position, runtime::KvCache& cache, int threads) {
  const LayerWeights& w = weights_.layers[layer];
  const size_t dim = hp_.hidden_size, head_dim = hp_.head_dim;
  const size_t heads = hp_.num_attention_heads, kv_heads = hp_.num_key_value_heads;
  const size_t q_width = heads * head_dim, kv_width = kv_heads * head_dim;
  const size_t group = heads / kv_heads;

  for (size_t t = 0; t < n; ++t) {
    ops::rms_norm(&x_[t * dim], w.attn_norm.data(), dim, float(hp_.rms_norm_eps), &xn_[t * dim]);
  }
  q_.resize(n * q_width);      // (n, heads * head_dim)
  k_.resize(n * kv_width);     // (n, kv_heads * head_dim)
  v_.resize(n * kv_width);
  linear(*w.wq, xn_.data(), n, q_.data(), threads);
  linear(*w.wk, xn_.data(), n, k_.data(), threads);
  linear(*w.wv, xn_.data(), n, v_.data(), threads);
  for (size_t t = 0; t < n; ++t) {
    const uint32_t position = first_position + static_cast<uint32_t>(t);
    rope_.apply(&q_[t * q_width], heads, position);
    rope_.apply(&k_[t * kv_width], kv_heads, position);
    cache.store(layer, position, &k_[t * kv_width], &v_[t * kv_width]);
  }

  // softmax(q k^T / sqrt(head_dim)) v over positions [window start, position], per token and
  // KV head, for the `group` query heads that share it (each K/V row is read once for all).
  attention_out_.assign(n * q_width, 0.0f);
  const float scale = 1.0f / std::sqrt(float(head_dim));
  const uint32_t last_position = first_position + static_cast<uint32_t>(n) - 1;
  const auto width = static_cast<uint32_t>(head_dim);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scores(group * (last_position + 1));  // (group, span)
#pragma omp for collapse(2) schedule(static)
    for (size_t t = 0; t < n; ++t) {
      for (size_t g = 0; g < kv_heads; ++g) {
        const uint32_t position = first_position + static_cast<uint32_t>(t);
        const uint32_t start = hp_.sliding_window && position >= hp_.sliding_window ? position - hp_.sliding_window + 1 : 0;
        const size_t span = position - start + 1;
        const auto kv_offset = static_cast<uint32_t>(g * head_dim);
        const float* queries = &q_[t * q_width + g * group * head_dim];  // (group, head_dim)
        cache.key_scores(layer, start, static_cast<uint32_t>(span), kv_offset, queries, static_cast<uint32_t>(group), width,
                         scores.data(), span);
        for (size_t j = 0; j < group; ++j) {
          for (size_t p = 0; p < span; ++p) scores[j * span + p] *= scale;
          ops::softmax(&scores[j * span], span);
        }
        float* out = &attention_out_[t * q_width + g * group * head_dim];  // (group, head_dim)
        cache.add_values(layer, start, static_cast<uint32_t>(span), kv_offset, scores.data(), span,
                         static_cast<uint32_t>(group), width, out);
      }
    }
  }

  projected_.resize(n * dim);
  linear(*w.wo, attention_out_.data(), n, projected_.data(), threads);
  for (size_t i = 0; i < n * dim; ++i) x_[i] += projected_[i];
}

}  // namespace smoe::model
