// The Mixtral forward pass over a batch of consecutive tokens, reading like the paper:
//   x = embed(tokens)
//   for each layer:  x += Attention(RMSNorm(x))            (RoPE, grouped-query, causal, KV cache)
//                    x += sum_{e in top-k} g_e * Expert_e(RMSNorm(x))   (g = softmax over top-k logits)
//   logits = Output(RMSNorm(x))
// Prompt batches are evaluated together: every matrix is read once per batch, and each chosen
// expert once for all the tokens routed to it. Stateless apart from scratch buffers: one
// Transformer per session, many per model.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "format/container.h"
#include "model/expert_runner.h"
#include "model/expert_store.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/routing_statistics.h"
#include "ops/cpu_plan.h"
#include "ops/matmul.h"
#include "ops/rope.h"

namespace smoe::model {

// Called once per layer and token with the experts the router chose, highest weight first.
using RoutingObserver = std::function<void(uint32_t layer, uint32_t position, std::span<const uint32_t> experts)>;

// Called before every weight matrix multiplies its input x (n_tokens, in): calibration uses it
// to collect activation statistics per tensor (and so per expert).
using ActivationObserver = std::function<void(const format::TensorView& weight, const float* x, size_t n_tokens)>;

// What one forward call needs besides its tokens: how the CPU runs it, and where routing goes.
struct ForwardContext {
  ops::CpuContext cpu;
  std::vector<uint64_t>* expert_counts = nullptr;  // (layers * experts): accumulates each choice
  const RoutingObserver* routing = nullptr;        // called per layer and token when set
  uint64_t* skipped_experts = nullptr;             // accumulates the choices moe_min_weight skipped
};

// The sequence one row of a batch belongs to: its KV cache, the row's position in it, and
// where its routing goes (as ForwardContext's, per sequence).
struct SequenceRow {
  KvCache* cache = nullptr;
  uint32_t position = 0;
  std::vector<uint64_t>* expert_counts = nullptr;
  const RoutingObserver* routing = nullptr;
  uint64_t* skipped_experts = nullptr;
};

class Transformer {
 public:
  // moe_min_weight: ModelOptions::moe_min_weight (0: every chosen expert runs).
  Transformer(const Hyperparameters& hp, const ModelWeights& weights, float moe_min_weight = 0.0f);

  // Evaluates `tokens` at positions [first_position, first_position + n) against `cache`.
  // Writes logits (n, vocab) when all_logits, else only the last token's (vocab,).
  void forward(std::span<const int32_t> tokens, uint32_t first_position, KvCache& cache, bool all_logits,
               std::vector<float>& logits, const ForwardContext& context);
  // Rows of several sequences (distinct caches) evaluated together: every matrix is read once
  // for all the rows and each chosen expert once for the rows routed to it, while attention runs
  // per row against its own cache. A sequence may bring several rows (a prompt chunk beside
  // others' next tokens): consecutive positions, in order. Each row computes exactly what
  // forward() gives its token alone at its position (the products take the per-row kernels
  // whatever the batch). Writes logits (logit_rows.size(), vocab) for the rows `logit_rows`
  // names. `context`'s expert_counts and routing are unused: rows carry their own.
  void forward_rows(std::span<const int32_t> tokens, std::span<const SequenceRow> rows,
                    std::span<const uint32_t> logit_rows, std::vector<float>& logits, const ForwardContext& context);

  void set_activation_observer(ActivationObserver observer) { activation_observer_ = std::move(observer); }
  // Experts resident on an accelerator run there (nullptr: all on the CPU).
  void set_expert_runner(ExpertRunner* runner) { runner_ = runner; }
  // The CPU's experts come from this store instead of the weights' views (nullptr: all in memory).
  void set_expert_store(ExpertStore* store) { store_ = store; }
  // Every MoE step's choices are recorded here (the model's, shared by its sessions; nullptr: not kept).
  void set_routing_statistics(RoutingStatistics* statistics) { statistics_ = statistics; }

 private:
  // y (n, rows) = x (n, in) W^T, reported to the activation observer first.
  void linear(const format::TensorView& w, const float* x, size_t n, float* y, const ops::CpuContext& cpu);
  // The same for several matrices sharing the input x, in one pass where they can (ops::matmul_shared_input).
  void linear_shared_input(std::span<const ops::MatmulOutput> outputs, const float* x, size_t n,
                           const ops::CpuContext& cpu);
  // The same for independent batches, each with its own input, in one pass (ops::matmul_batches).
  void linear_batches(std::span<const ops::MatmulBatch> batches, const ops::CpuContext& cpu);
  // The layers and the output projection over rows_ (x_ holds their embeddings): logits for
  // the rows logit_rows_ names, in that order.
  void run_layers(std::span<const int32_t> tokens, std::vector<float>& logits, const ForwardContext& context);
  void attention(uint32_t layer, const ops::CpuContext& cpu);
  // Per row with its own cache and position (decoding, small batches, several sequences) / as
  // matrix products over one sequence's consecutive rows (prompt batches).
  void decode_attention(uint32_t layer, const ops::CpuContext& cpu);
  void batched_attention(uint32_t layer, size_t n, uint32_t first_position, KvCache& cache,
                         const ops::CpuContext& cpu);
  uint32_t first_visible(uint32_t position) const;  // the sliding window's start
  static constexpr size_t kBatchedAttentionTokens = 32;  // from this many tokens per batch
  static constexpr size_t kAttentionQueryBlock = 256;    // query tokens per score matrix
  void mixture_of_experts(uint32_t layer, const ops::CpuContext& cpu);
  void expert_on_cpu(const ExpertWeights& w, size_t first_row, size_t m, const ops::CpuContext& cpu);
  // Batches of up to this many rows run a layer's experts in two passes (experts_on_cpu), whose
  // scratch holds every routed row (rows x top-k x ffn x 8 bytes: 29 MB for Mixtral's top-2 of
  // 14336 at 128 rows); longer ones (prompts) one expert at a time.
  static constexpr size_t kExpertPassRows = 128;
  void experts_on_cpu(uint32_t layer, std::span<const uint32_t> chosen, std::span<const size_t> first_row,
                      const std::vector<std::vector<std::pair<uint32_t, float>>>& tokens_of_expert,
                      const ops::CpuContext& cpu);
  void run_on_cpu(uint32_t layer, std::span<const uint32_t> chosen, std::span<const size_t> first_row,
                  const std::vector<std::vector<std::pair<uint32_t, float>>>& tokens_of_expert,
                  const ops::CpuContext& cpu);
  std::vector<uint32_t> predict_experts(uint32_t layer, const ops::CpuContext& cpu);

  const Hyperparameters& hp_;
  const ModelWeights& weights_;
  float moe_min_weight_;
  ops::RopeTable rope_;
  ActivationObserver activation_observer_;
  ExpertRunner* runner_ = nullptr;
  ExpertStore* store_ = nullptr;
  RoutingStatistics* statistics_ = nullptr;
  // Scratch, sized for the current batch.
  std::vector<float> x_, xn_, q_, k_, v_, attention_out_, projected_;
  std::vector<float> router_logits_, expert_in_, gate_, up_, expert_out_, scores_;
  std::vector<float> lookahead_in_, lookahead_logits_;
  std::vector<uint64_t> batch_counts_;  // this batch's choices, for the expert runner
  std::vector<SequenceRow> rows_;       // the batch's rows: whose, and at which position
  std::vector<uint32_t> logit_rows_;    // the rows whose logits the batch returns
  bool one_sequence_ = true;            // rows_ are consecutive positions of one cache
};

}  // namespace smoe::model
