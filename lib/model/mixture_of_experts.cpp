// The sparse MoE block (Jiang et al. 2024, Mixtral of Experts, eq. 1-2): the router's logits
// pick the top-k experts per token, their weights are a softmax over those k logits, and the
// block's output is the weighted sum of the chosen SwiGLU experts
//   Expert(x) = w2 (silu(w1 x) * (w3 x)).
// Only chosen experts run. Tokens are grouped by expert so that each expert's weights are
// read once per batch, for all the tokens routed to it.
#include <algorithm>
#include <numeric>

#include "model/transformer.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace smoe::model {

void Transformer::mixture_of_experts(uint32_t layer, size_t n, uint32_t first_position,
                                     std::vector<uint64_t>& expert_counts, const RoutingObserver& observer,
                                     int threads) {
  const LayerWeights& w = weights_.layers[layer];
  const size_t dim = hp_.hidden_size, ffn = hp_.intermediate_size;
  const size_t experts = hp_.num_local_experts, top_k = hp_.num_experts_per_tok;

  for (size_t t = 0; t < n; ++t) {
    ops::rms_norm(&x_[t * dim], w.ffn_norm.data(), dim, float(hp_.rms_norm_eps), &xn_[t * dim]);
  }
  router_logits_.resize(n * experts);  // (n, experts), f32
  linear(*w.router, xn_.data(), n, router_logits_.data(), threads);

  // Route: per token the top-k experts (ties to the lower index) and their gate weights.
  std::vector<std::vector<std::pair<uint32_t, float>>> tokens_of_expert(experts);  // (token, gate)
  std::vector<uint32_t> order(experts);
  std::vector<float> chosen_logits(top_k);
  for (size_t t = 0; t < n; ++t) {
    const float* logits = &router_logits_[t * experts];
    std::iota(order.begin(), order.end(), 0u);
    std::partial_sort(order.begin(), order.begin() + long(top_k), order.end(),
                      [&](uint32_t a, uint32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    for (size_t j = 0; j < top_k; ++j) chosen_logits[j] = logits[order[j]];
    ops::softmax(chosen_logits.data(), top_k);
    for (size_t j = 0; j < top_k; ++j) {
      tokens_of_expert[order[j]].emplace_back(static_cast<uint32_t>(t), chosen_logits[j]);
      ++expert_counts[size_t{layer} * experts + order[j]];
    }
    if (observer) observer(layer, first_position + static_cast<uint32_t>(t), {order.data(), top_k});
  }

  // Run each chosen expert once over its group of tokens; add its weighted output.
  for (size_t e = 0; e < experts; ++e) {
    const auto& group = tokens_of_expert[e];
    if (group.empty()) continue;
    const size_t m = group.size();
    expert_in_.resize(m * dim);
    for (size_t i = 0; i < m; ++i) std::copy_n(&xn_[group[i].first * dim], dim, &expert_in_[i * dim]);
    gate_.resize(m * ffn);
    up_.resize(m * ffn);
    expert_out_.resize(m * dim);
    // A resident expert runs on the accelerator; otherwise (or if the device fails) on the CPU.
    if (!offload_ || !offload_->forward(static_cast<uint32_t>(layer), static_cast<uint32_t>(e), expert_in_.data(), m,
                                        expert_out_.data())) {
      linear(*w.experts[e].w1, expert_in_.data(), m, gate_.data(), threads);  // (m, ffn)
      linear(*w.experts[e].w3, expert_in_.data(), m, up_.data(), threads);    // (m, ffn)
      ops::silu_mul(gate_.data(), up_.data(), m * ffn);
      linear(*w.experts[e].w2, gate_.data(), m, expert_out_.data(), threads);  // (m, dim)
    }
    for (size_t i = 0; i < m; ++i) {
      float* x = &x_[group[i].first * dim];
      for (size_t d = 0; d < dim; ++d) x[d] += group[i].second * expert_out_[i * dim + d];
    }
  }
}

}  // namespace smoe::model
