// The sparse MoE block (Jiang et al. 2024, Mixtral of Experts, eq. 1-2): the router's logits
// pick the top-k experts per token, their weights are a softmax over those k logits, and the
// block's output is the weighted sum of the chosen SwiGLU experts
//   Expert(x) = w2 (silu(w1 x) * (w3 x)).
// Only chosen experts run. Tokens are grouped by expert so that each expert's weights are
// read once per batch, for all the tokens routed to it.
#include <algorithm>
#include <future>
#include <numeric>

#include "model/transformer.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace smoe::model {

namespace {

// `order` (experts,) gets the experts' indices with the top-k of `logits` first, highest first,
// ties to the lower index.
void sort_top_k(const float* logits, size_t top_k, std::vector<uint32_t>& order) {
  std::iota(order.begin(), order.end(), 0u);
  std::partial_sort(order.begin(), order.begin() + long(top_k), order.end(),
                    [&](uint32_t a, uint32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
}

}  // namespace

void Transformer::mixture_of_experts(uint32_t layer, const ops::CpuContext& cpu) {
  const LayerWeights& w = weights_.layers[layer];
  const size_t n = rows_.size();
  const size_t dim = hp_.hidden_size;
  const size_t experts = hp_.num_local_experts, top_k = hp_.num_experts_per_tok;

  for (size_t t = 0; t < n; ++t) {
    ops::rms_norm(&x_[t * dim], w.ffn_norm.data(), dim, float(hp_.rms_norm_eps), &xn_[t * dim]);
  }
  router_logits_.resize(n * experts);  // (n, experts), f32
  linear(*w.router, xn_.data(), n, router_logits_.data(), cpu);

  // Route: per token the top-k experts (ties to the lower index) and their gate weights.
  std::vector<std::vector<std::pair<uint32_t, float>>> tokens_of_expert(experts);  // (token, gate)
  std::vector<uint32_t> order(experts);
  std::vector<float> chosen_logits(top_k);
  for (size_t t = 0; t < n; ++t) {
    const float* logits = &router_logits_[t * experts];
    sort_top_k(logits, top_k, order);
    for (size_t j = 0; j < top_k; ++j) chosen_logits[j] = logits[order[j]];
    cpu.plan.elementwise.softmax(chosen_logits.data(), top_k, 1.0f);
    // Adaptive top-k: experts after the first below the minimum weight are skipped, the
    // others' weights scaled to sum to 1 (the weights are in decreasing order).
    size_t kept = top_k;
    while (kept > 1 && chosen_logits[kept - 1] < moe_min_weight_) --kept;
    if (kept < top_k) {
      float sum = 0.0f;
      for (size_t j = 0; j < kept; ++j) sum += chosen_logits[j];
      for (size_t j = 0; j < kept; ++j) chosen_logits[j] /= sum;
      if (rows_[t].skipped_experts != nullptr) *rows_[t].skipped_experts += top_k - kept;
    }
    for (size_t j = 0; j < kept; ++j) {
      tokens_of_expert[order[j]].emplace_back(static_cast<uint32_t>(t), chosen_logits[j]);
      ++batch_counts_[size_t{layer} * experts + order[j]];
      if (rows_[t].expert_counts != nullptr) ++(*rows_[t].expert_counts)[size_t{layer} * experts + order[j]];
    }
    const RoutingObserver* routing = rows_[t].routing;
    if (routing != nullptr && *routing) (*routing)(layer, rows_[t].position, {order.data(), kept});
  }
  if (statistics_ != nullptr) statistics_->record_step(layer, {&batch_counts_[size_t{layer} * experts], experts});

  // Each chosen expert runs once over its group of tokens. Experts resident on an accelerator
  // run on its worker thread while this thread computes the others on the CPU (the device's
  // share hides behind the CPU's); outputs are kept per expert and added in expert order
  // afterwards, so the result does not depend on which side finishes first.
  std::vector<size_t> first_row(experts + 1, 0);  // expert e's rows in expert_in_ / expert_out_
  for (size_t e = 0; e < experts; ++e) first_row[e + 1] = first_row[e] + tokens_of_expert[e].size();
  expert_in_.resize(first_row[experts] * dim);
  expert_out_.resize(first_row[experts] * dim);
  std::vector<uint32_t> on_device, on_cpu;
  for (size_t e = 0; e < experts; ++e) {
    const auto& group = tokens_of_expert[e];
    if (group.empty()) continue;
    for (size_t i = 0; i < group.size(); ++i) {
      std::copy_n(&xn_[group[i].first * dim], dim, &expert_in_[(first_row[e] + i) * dim]);
    }
    const bool resident = runner_ && runner_->resident(layer, static_cast<uint32_t>(e));
    (resident ? on_device : on_cpu).push_back(static_cast<uint32_t>(e));
  }
  std::vector<char> served(experts, 0);  // by the device
  const auto run_on_device = [&] {
    for (const uint32_t e : on_device) {
      served[e] = runner_->forward(layer, e, &expert_in_[first_row[e] * dim], tokens_of_expert[e].size(),
                                    &expert_out_[first_row[e] * dim]);
    }
  };
  std::future<void> device_done;
  if (!on_device.empty() && !on_cpu.empty()) {
    device_done = runner_->run_concurrently(run_on_device);
    runner_->record_concurrent_step();
  } else if (!on_device.empty()) {
    run_on_device();
  }
  if (runner_) runner_->record_cpu_runs(on_cpu.size());
  run_on_cpu(layer, on_cpu, first_row, tokens_of_expert, cpu);
  if (device_done.valid()) device_done.get();
  std::vector<uint32_t> failed;  // a device that failed leaves its experts to the CPU
  for (const uint32_t e : on_device) {
    if (!served[e]) failed.push_back(e);
  }
  run_on_cpu(layer, failed, first_row, tokens_of_expert, cpu);

  for (size_t e = 0; e < experts; ++e) {
    const auto& group = tokens_of_expert[e];
    for (size_t i = 0; i < group.size(); ++i) {
      float* x = &x_[group[i].first * dim];
      const float* out = &expert_out_[(first_row[e] + i) * dim];
      for (size_t d = 0; d < dim; ++d) x[d] += group[i].second * out[d];
    }
  }
}

namespace {

// What a step holds in the expert store, given back if an error (a failed read) ends it early.
class StoreLease {
 public:
  StoreLease(ExpertStore& store, uint32_t layer) : store_(store), layer_(layer) {}
  ~StoreLease() {
    if (held_ >= 0) store_.release(layer_, uint32_t(held_));
    if (!kept_.empty()) store_.abandon(layer_, kept_);
  }
  std::vector<uint32_t>& kept() { return kept_; }  // requested and slotted, not fetched yet
  const ExpertWeights& fetch(uint32_t expert) {
    const bool kept = std::erase(kept_, expert) > 0;
    const ExpertWeights& weights = store_.fetch(layer_, expert, kept);
    held_ = expert;
    return weights;
  }
  void release() {
    store_.release(layer_, uint32_t(held_));
    held_ = -1;
  }

 private:
  ExpertStore& store_;
  uint32_t layer_;
  std::vector<uint32_t> kept_;
  int64_t held_ = -1;
};

}  // namespace

// The chosen experts on this thread's CPU: from the weights' views when all are in memory;
// from the store otherwise: all requested at once (their reads start together), the next
// layer's likely experts read ahead behind them, then each run as soon as it is in memory,
// those already there (or on their way) first.
void Transformer::run_on_cpu(uint32_t layer, std::span<const uint32_t> chosen, std::span<const size_t> first_row,
                             const std::vector<std::vector<std::pair<uint32_t, float>>>& tokens_of_expert,
                             const ops::CpuContext& cpu) {
  if (store_ == nullptr) {
    if (rows_.size() <= kExpertPassRows) return experts_on_cpu(layer, chosen, first_row, tokens_of_expert, cpu);
    for (const uint32_t e : chosen) {
      expert_on_cpu(weights_.layers[layer].experts[e], first_row[e], tokens_of_expert[e].size(), cpu);
    }
    return;
  }
  if (chosen.empty()) return;
  std::vector<uint8_t> slotted(chosen.size());
  store_->request(layer, chosen, slotted);
  StoreLease lease(*store_, layer);
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (slotted[i]) lease.kept().push_back(chosen[i]);
  }
  std::vector<uint32_t> order = lease.kept();
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (!slotted[i]) order.push_back(chosen[i]);
  }
  if (store_->wants_lookahead() && layer + 1 < hp_.num_hidden_layers) {
    const std::vector<uint32_t> predicted = predict_experts(layer + 1, cpu);
    store_->prefetch(layer + 1, predicted);
  }
  for (const uint32_t e : order) {
    const ExpertWeights& w = lease.fetch(e);
    expert_on_cpu(w, first_row[e], tokens_of_expert[e].size(), cpu);
    lease.release();
  }
}

// Lookahead: the experts layer `layer` would choose for the rows' current hidden states (its
// own norm and router applied to x_, which the layers in between will still change): the union
// of each row's top-k, in ascending order. Not reported to the activation observer.
std::vector<uint32_t> Transformer::predict_experts(uint32_t layer, const ops::CpuContext& cpu) {
  const LayerWeights& w = weights_.layers[layer];
  const size_t n = rows_.size(), dim = hp_.hidden_size;
  const size_t experts = hp_.num_local_experts, top_k = hp_.num_experts_per_tok;
  lookahead_in_.resize(n * dim);
  lookahead_logits_.resize(n * experts);
  for (size_t t = 0; t < n; ++t) {
    ops::rms_norm(&x_[t * dim], w.ffn_norm.data(), dim, float(hp_.rms_norm_eps), &lookahead_in_[t * dim]);
  }
  ops::matmul(*w.router, lookahead_in_.data(), n, lookahead_logits_.data(), cpu);
  std::vector<uint8_t> wanted(experts, 0);
  std::vector<uint32_t> order(experts);
  for (size_t t = 0; t < n; ++t) {
    const float* logits = &lookahead_logits_[t * experts];
    sort_top_k(logits, top_k, order);
    for (size_t j = 0; j < top_k; ++j) wanted[order[j]] = 1;
  }
  std::vector<uint32_t> predicted;
  for (uint32_t e = 0; e < experts; ++e) {
    if (wanted[e]) predicted.push_back(e);
  }
  return predicted;
}

// The chosen experts, all in memory, together: every expert's w1 and w3 in one parallel pass
// (ops::matmul_batches: threads working on experts with many tokens beside threads on experts
// with few), then every expert's w2 in another. Each row as expert_on_cpu computes it. The
// gate and up buffers hold every routed row at once (hence kExpertPassRows).
void Transformer::experts_on_cpu(uint32_t layer, std::span<const uint32_t> chosen, std::span<const size_t> first_row,
                                 const std::vector<std::vector<std::pair<uint32_t, float>>>& tokens_of_expert,
                                 const ops::CpuContext& cpu) {
  if (chosen.empty()) return;
  const size_t dim = hp_.hidden_size, ffn = hp_.intermediate_size;
  const size_t rows = first_row.back();
  gate_.resize(rows * ffn);
  up_.resize(rows * ffn);
  std::vector<ops::MatmulOutput> projections;  // w1, w3 of each chosen expert
  projections.reserve(2 * chosen.size());
  for (const uint32_t e : chosen) {
    const ExpertWeights& w = weights_.layers[layer].experts[e];
    projections.push_back({w.w1, &gate_[first_row[e] * ffn]});
    projections.push_back({w.w3, &up_[first_row[e] * ffn]});
  }
  std::vector<ops::MatmulBatch> batches;
  batches.reserve(chosen.size());
  for (size_t i = 0; i < chosen.size(); ++i) {
    const uint32_t e = chosen[i];
    batches.push_back({{&projections[2 * i], 2}, &expert_in_[first_row[e] * dim], tokens_of_expert[e].size()});
  }
  linear_batches(batches, cpu);
  std::vector<ops::MatmulOutput> down(chosen.size());  // w2 of each
  batches.clear();
  for (size_t i = 0; i < chosen.size(); ++i) {
    const uint32_t e = chosen[i];
    const size_t m = tokens_of_expert[e].size();
    float* gate = &gate_[first_row[e] * ffn];
    for (size_t r = 0; r < m; ++r) cpu.plan.elementwise.silu_mul(&gate[r * ffn], &up_[(first_row[e] + r) * ffn], ffn);
    down[i] = {weights_.layers[layer].experts[e].w2, &expert_out_[first_row[e] * dim]};
    batches.push_back({{&down[i], 1}, gate, m});
  }
  linear_batches(batches, cpu);
}

// Expert(x) = w2 (silu(w1 x) * (w3 x)) for the m rows of expert_in_ from `first_row`, into
// the same rows of expert_out_.
void Transformer::expert_on_cpu(const ExpertWeights& w, size_t first_row, size_t m, const ops::CpuContext& cpu) {
  const size_t dim = hp_.hidden_size, ffn = hp_.intermediate_size;
  gate_.resize(m * ffn);
  up_.resize(m * ffn);
  const float* in = &expert_in_[first_row * dim];
  const ops::MatmulOutput projections[] = {{w.w1, gate_.data()}, {w.w3, up_.data()}};  // (m, ffn) each
  linear_shared_input(projections, in, m, cpu);
  // Row by row: a row's gate is computed the same whatever else is in the batch (the vector
  // kernels' tails fall at each row's end).
  for (size_t r = 0; r < m; ++r) cpu.plan.elementwise.silu_mul(&gate_[r * ffn], &up_[r * ffn], ffn);
  linear(*w.w2, gate_.data(), m, &expert_out_[first_row * dim], cpu);  // (m, dim)
}

}  // namespace smoe::model
