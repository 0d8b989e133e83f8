// Grouped-query causal self-attention with RoPE and a KV cache (Vaswani et al. 2017;
// Ainslie et al. 2023 for GQA): query head h reads KV head h / (heads / kv_heads).
#include <algorithm>
#include <cmath>

#include "model/transformer.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/matmul.h"

namespace smoe::model {

void Transformer::attention(uint32_t layer, const ops::CpuContext& cpu) {
  const LayerWeights& w = weights_.layers[layer];
  const size_t n = rows_.size();
  const size_t dim = hp_.hidden_size, head_dim = hp_.head_dim;
  const size_t heads = hp_.num_attention_heads, kv_heads = hp_.num_key_value_heads;
  const size_t q_width = heads * head_dim, kv_width = kv_heads * head_dim;

  for (size_t t = 0; t < n; ++t) {
    ops::rms_norm(&x_[t * dim], w.attn_norm.data(), dim, float(hp_.rms_norm_eps), &xn_[t * dim]);
  }
  q_.resize(n * q_width);      // (n, heads * head_dim)
  k_.resize(n * kv_width);     // (n, kv_heads * head_dim)
  v_.resize(n * kv_width);
  const ops::MatmulOutput projections[] = {{w.wq, q_.data()}, {w.wk, k_.data()}, {w.wv, v_.data()}};
  linear_shared_input(projections, xn_.data(), n, cpu);
  for (size_t t = 0; t < n; ++t) {
    const uint32_t position = rows_[t].position;
    rope_.apply(&q_[t * q_width], heads, position);
    rope_.apply(&k_[t * kv_width], kv_heads, position);
    rows_[t].cache->store(layer, position, &k_[t * kv_width], &v_[t * kv_width]);
  }

  attention_out_.assign(n * q_width, 0.0f);
  if (one_sequence_ && n >= kBatchedAttentionTokens) {
    batched_attention(layer, n, rows_.front().position, *rows_.front().cache, cpu);
  } else {
    decode_attention(layer, cpu);
  }

  projected_.resize(n * dim);
  linear(*w.wo, attention_out_.data(), n, projected_.data(), cpu);
  for (size_t i = 0; i < n * dim; ++i) x_[i] += projected_[i];
}

// The first position a query at `position` sees: 0, or with a sliding window of w positions,
// position - w + 1.
uint32_t Transformer::first_visible(uint32_t position) const {
  const uint32_t window = hp_.sliding_window;
  return window && position >= window ? position - window + 1 : 0;
}

// softmax(q k^T / sqrt(head_dim)) v over positions [window start, position] of the row's own
// cache, per row and KV head, for the `group` query heads that share it (each K/V row is read
// once for all).
void Transformer::decode_attention(uint32_t layer, const ops::CpuContext& cpu) {
  const size_t n = rows_.size();
  const quant::Kernels& kernels = *cpu.plan.kernels;
  const auto softmax = cpu.plan.elementwise.softmax;
  const size_t head_dim = hp_.head_dim, heads = hp_.num_attention_heads, kv_heads = hp_.num_key_value_heads;
  const size_t q_width = heads * head_dim, group = heads / kv_heads;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  uint32_t last_position = 0;
  for (const SequenceRow& row : rows_) last_position = std::max(last_position, row.position);
  const auto width = static_cast<uint32_t>(head_dim);
#pragma omp parallel num_threads(cpu.threads)
  {
    std::vector<float> scores(group * (last_position + 1));  // (group, span)
#pragma omp for collapse(2) schedule(static)
    for (size_t t = 0; t < n; ++t) {
      for (size_t g = 0; g < kv_heads; ++g) {
        const uint32_t position = rows_[t].position;
        const KvCache& cache = *rows_[t].cache;
        const uint32_t start = first_visible(position);
        const size_t span = position - start + 1;
        const auto kv_offset = static_cast<uint32_t>(g * head_dim);
        const float* queries = &q_[t * q_width + g * group * head_dim];  // (group, head_dim)
        cache.key_scores(kernels, layer, start, static_cast<uint32_t>(span), kv_offset, queries, static_cast<uint32_t>(group), width,
                         scores.data(), span);
        for (size_t j = 0; j < group; ++j) softmax(&scores[j * span], span, scale);
        float* out = &attention_out_[t * q_width + g * group * head_dim];  // (group, head_dim)
        cache.add_values(kernels, layer, start, static_cast<uint32_t>(span), kv_offset, scores.data(), span,
                         static_cast<uint32_t>(group), width, out);
      }
    }
  }
}

// Prompt batches: per KV head, the keys and values of every position the batch can see are
// converted to f32 once, and S = Q K^T and O = softmax(S) V are two oneDNN sgemm calls for
// all the batch's tokens and the query heads sharing that KV head, in blocks of query tokens
// (bounding S's memory). Causality and the sliding window are a mask on S.
void Transformer::batched_attention(uint32_t layer, size_t n, uint32_t first_position, KvCache& cache,
                                    const ops::CpuContext& cpu) {
  const int threads = cpu.threads;
  const auto softmax = cpu.plan.elementwise.softmax;
  const size_t head_dim = hp_.head_dim, heads = hp_.num_attention_heads, kv_heads = hp_.num_key_value_heads;
  const size_t q_width = heads * head_dim, group = heads / kv_heads;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  const uint32_t last_position = first_position + static_cast<uint32_t>(n) - 1;
  const uint32_t first = first_visible(first_position);  // the earliest any token of the batch sees
  const size_t span = last_position - first + 1;
  std::vector<float> keys(span * head_dim), values(span * head_dim);
  const size_t block = std::min<size_t>(n, kAttentionQueryBlock);
  std::vector<float> queries(group * block * head_dim), scores(group * block * span), out(group * block * head_dim);
  for (size_t g = 0; g < kv_heads; ++g) {
    const auto offset = static_cast<uint32_t>(g * head_dim);
    cache.read_keys(layer, first, static_cast<uint32_t>(span), offset, static_cast<uint32_t>(head_dim), keys.data());
    cache.read_values(layer, first, static_cast<uint32_t>(span), offset, static_cast<uint32_t>(head_dim),
                      values.data());
    for (size_t t0 = 0; t0 < n; t0 += block) {
      const size_t count = std::min(block, n - t0), rows = group * count;
      // Q rows in order (query head j, token t): row j * count + t.
      for (size_t j = 0; j < group; ++j) {
        for (size_t t = 0; t < count; ++t) {
          std::copy_n(&q_[(t0 + t) * q_width + (g * group + j) * head_dim], head_dim, &queries[(j * count + t) * head_dim]);
        }
      }
      ops::sgemm_nt(queries.data(), keys.data(), rows, span, head_dim, scale, scores.data(), threads);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (size_t r = 0; r < rows; ++r) {
        const uint32_t position = first_position + static_cast<uint32_t>(t0 + r % count);
        float* row = &scores[r * span];
        // Visible: [first_visible(position), position] relative to first; the rest gets zero weight.
        const size_t begin = first_visible(position) - first, end = position - first + 1;
        softmax(row + begin, end - begin, 1.0f);
        std::fill(row, row + begin, 0.0f);
        std::fill(row + end, row + span, 0.0f);
      }
      ops::sgemm_nn(scores.data(), values.data(), rows, head_dim, span, out.data(), threads);
      for (size_t j = 0; j < group; ++j) {
        for (size_t t = 0; t < count; ++t) {
          std::copy_n(&out[(j * count + t) * head_dim], head_dim, &attention_out_[(t0 + t) * q_width + (g * group + j) * head_dim]);
        }
      }
    }
  }
}

}  // namespace smoe::model
