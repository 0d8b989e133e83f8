// Embedding, layer loop and output projection of the forward pass.
#include "model/transformer.h"

#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace smoe::model {

Transformer::Transformer(const Hyperparameters& hp, const ModelWeights& weights, float moe_min_weight)
    : hp_(hp), weights_(weights), moe_min_weight_(moe_min_weight), rope_(hp.head_dim, hp.rope_theta) {}

void Transformer::linear(const format::TensorView& w, const float* x, size_t n, float* y, const ops::CpuContext& cpu) {
  if (activation_observer_) activation_observer_(w, x, n);
  ops::matmul(w, x, n, y, cpu);
}

void Transformer::linear_shared_input(std::span<const ops::MatmulOutput> outputs, const float* x, size_t n,
                                      const ops::CpuContext& cpu) {
  if (activation_observer_) {
    for (const ops::MatmulOutput& output : outputs) activation_observer_(*output.w, x, n);
  }
  ops::matmul_shared_input(outputs, x, n, cpu);
}

void Transformer::linear_batches(std::span<const ops::MatmulBatch> batches, const ops::CpuContext& cpu) {
  if (activation_observer_) {
    for (const ops::MatmulBatch& batch : batches) {
      for (const ops::MatmulOutput& output : batch.outputs) activation_observer_(*output.w, batch.x, batch.n_tokens);
    }
  }
  ops::matmul_batches(batches, cpu);
}

void Transformer::forward(std::span<const int32_t> tokens, uint32_t first_position, KvCache& cache, bool all_logits,
                          std::vector<float>& logits, const ForwardContext& context) {
  const size_t n = tokens.size();
  rows_.resize(n);
  for (size_t t = 0; t < n; ++t) {
    rows_[t] = {&cache, first_position + static_cast<uint32_t>(t), context.expert_counts, context.routing,
                context.skipped_experts};
  }
  one_sequence_ = true;
  logit_rows_.clear();
  for (size_t t = all_logits ? 0 : n - 1; t < n; ++t) logit_rows_.push_back(static_cast<uint32_t>(t));
  run_layers(tokens, logits, context);
}

void Transformer::forward_rows(std::span<const int32_t> tokens, std::span<const SequenceRow> rows,
                               std::span<const uint32_t> logit_rows, std::vector<float>& logits,
                               const ForwardContext& context) {
  rows_.assign(rows.begin(), rows.end());
  logit_rows_.assign(logit_rows.begin(), logit_rows.end());
  one_sequence_ = false;
  ForwardContext per_row = context;
  per_row.cpu.rows_one_by_one = true;  // each row's products exactly as if it were alone
  run_layers(tokens, logits, per_row);
}

void Transformer::run_layers(std::span<const int32_t> tokens, std::vector<float>& logits,
                             const ForwardContext& context) {
  const size_t n = tokens.size(), dim = hp_.hidden_size, experts = hp_.num_local_experts;
  x_.resize(n * dim);
  xn_.resize(n * dim);
  for (size_t t = 0; t < n; ++t) ops::read_row(*weights_.token_embd, static_cast<size_t>(tokens[t]), &x_[t * dim]);

  batch_counts_.assign(size_t{hp_.num_hidden_layers} * experts, 0);
  for (uint32_t layer = 0; layer < hp_.num_hidden_layers; ++layer) {
    attention(layer, context.cpu);
    mixture_of_experts(layer, context.cpu);
  }
  if (runner_ != nullptr) runner_->finish_batch(batch_counts_);  // re-placed between batches

  // Final norm and output projection, for the rows asked for.
  const size_t count = logit_rows_.size();
  for (size_t i = 0; i < count; ++i) {
    ops::rms_norm(&x_[size_t{logit_rows_[i]} * dim], weights_.output_norm.data(), dim, float(hp_.rms_norm_eps),
                  &xn_[i * dim]);
  }
  logits.resize(count * hp_.vocab_size);
  linear(*weights_.output, xn_.data(), count, logits.data(), context.cpu);
}

}  // namespace smoe::model
