// Row-parallel matrix products over the scalar reference dot kernels.
#include "ops/matmul.h"

#include <vector>

#include "ops/gemm.h"
#include "quant/convert_row.h"
#include "quant/kernels.h"
#include "quant/row_dot.h"
#include "smoe/error.h"

namespace smoe::ops {

namespace {

// Quantized weights: the activations are quantized to 8 bits once per call (blocks of 32 for
// q8/q4, of 256 for the super-block types q4k/q6k/q3k), then each row is an integer dot product with each token, by the
// kernels selected at run time.
template <class Activation, class Weight>
void matmul_quantized(const format::TensorView& w, float (*dot)(const Weight*, const Activation*, size_t),
                      void (*quantize)(const float*, Activation*, size_t), const float* x, size_t n_tokens, float* y,
                      int threads) {
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t row_bytes = w.bytes / rows, blocks = in / Activation::kElements;
  std::vector<Activation> activations(n_tokens * blocks);
  for (size_t t = 0; t < n_tokens; ++t) quantize(x + t * in, &activations[t * blocks], in);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t r = 0; r < rows; ++r) {
    const auto* row = reinterpret_cast<const Weight*>(w.data + r * row_bytes);
    for (size_t t = 0; t < n_tokens; ++t) y[t * rows + r] = dot(row, &activations[t * blocks], in);
  }
}

// The rows of several matrices of one type and width in one parallel loop, with the
// activations quantized once (matmul_shared_input).
template <class Activation, class Weight>
void matmul_quantized_shared(std::span<const MatmulOutput> outputs, float (*dot)(const Weight*, const Activation*, size_t),
                             void (*quantize)(const float*, Activation*, size_t), const float* x, size_t n_tokens,
                             int threads) {
  const size_t in = outputs.front().w->shape[1], blocks = in / Activation::kElements;
  std::vector<Activation> activations(n_tokens * blocks);
  for (size_t t = 0; t < n_tokens; ++t) quantize(x + t * in, &activations[t * blocks], in);
  std::vector<size_t> first_row(outputs.size() + 1, 0);
  for (size_t i = 0; i < outputs.size(); ++i) first_row[i + 1] = first_row[i] + outputs[i].w->shape[0];
  const size_t total_rows = first_row.back();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t r = 0; r < total_rows; ++r) {
    size_t m = 0;
    while (r >= first_row[m + 1]) ++m;  // a handful of matrices
    const format::TensorView& w = *outputs[m].w;
    const size_t rows = w.shape[0], local = r - first_row[m];
    const auto* row = reinterpret_cast<const Weight*>(w.data + local * (w.bytes / rows));
    for (size_t t = 0; t < n_tokens; ++t) outputs[m].y[t * rows + local] = dot(row, &activations[t * blocks], in);
  }
}

}  // namespace

void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens, int threads) {
  bool fusable = !outputs.empty() && n_tokens < kGemmMinTokens;
  for (const MatmulOutput& output : outputs) {
    fusable = fusable && output.w->shape.size() == 2 && output.w->type == outputs.front().w->type &&
              output.w->shape[1] == outputs.front().w->shape[1];
  }
  if (fusable) {
    const quant::Kernels& kernels = quant::active_kernels();
    switch (outputs.front().w->type) {
      case quant::TensorType::q8:
        return matmul_quantized_shared(outputs, kernels.dot_q8, kernels.quantize_q8a, x, n_tokens, threads);
      case quant::TensorType::q4:
        return matmul_quantized_shared(outputs, kernels.dot_q4, kernels.quantize_q8a, x, n_tokens, threads);
      case quant::TensorType::q4k:
        return matmul_quantized_shared(outputs, kernels.dot_q4k, kernels.quantize_q8k, x, n_tokens, threads);
      case quant::TensorType::q6k:
        return matmul_quantized_shared(outputs, kernels.dot_q6k, kernels.quantize_q8k, x, n_tokens, threads);
      case quant::TensorType::q3k:
        return matmul_quantized_shared(outputs, kernels.dot_q3k, kernels.quantize_q8k, x, n_tokens, threads);
      default: break;
    }
  }
  for (const MatmulOutput& output : outputs) matmul(*output.w, x, n_tokens, output.y, threads);
}

void matmul(const format::TensorView& w, const float* x, size_t n_tokens, float* y, int threads) {
  if (w.shape.size() != 2) throw Error(w.name, "matmul needs a matrix");
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t row_bytes = w.bytes / rows;
  if (n_tokens >= kGemmMinTokens) {
    gemm(w, x, n_tokens, y, threads);
    return;
  }
  const quant::Kernels& kernels = quant::active_kernels();
  switch (w.type) {
    case quant::TensorType::q8: return matmul_quantized(w, kernels.dot_q8, kernels.quantize_q8a, x, n_tokens, y, threads);
    case quant::TensorType::q4: return matmul_quantized(w, kernels.dot_q4, kernels.quantize_q8a, x, n_tokens, y, threads);
    case quant::TensorType::q4k: return matmul_quantized(w, kernels.dot_q4k, kernels.quantize_q8k, x, n_tokens, y, threads);
    case quant::TensorType::q6k: return matmul_quantized(w, kernels.dot_q6k, kernels.quantize_q8k, x, n_tokens, y, threads);
    case quant::TensorType::q3k: return matmul_quantized(w, kernels.dot_q3k, kernels.quantize_q8k, x, n_tokens, y, threads);
    default: break;
  }
  const quant::RowDotFn dot = quant::row_dot_ref(w.type);
  if (n_tokens == 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t r = 0; r < rows; ++r) y[r] = dot(w.data + r * row_bytes, x, in);
    return;
  }
  // Batches: decode each weight row once to f32, then reuse it for every token.
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> row(in);
#pragma omp for schedule(static)
    for (size_t r = 0; r < rows; ++r) {
      quant::dequantize_row(w.type, w.data + r * row_bytes, row.data(), in);
      for (size_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * in;
        float sum = 0.0f;
        for (size_t i = 0; i < in; ++i) sum += row[i] * xt[i];
        y[t * rows + r] = sum;
      }
    }
  }
}

void read_row(const format::TensorView& w, size_t row, float* out) {
  const size_t rows = w.shape[0], in = w.shape.back();
  if (row >= rows) throw Error(w.name, "row " + std::to_string(row) + " out of range");
  quant::dequantize_row(w.type, w.data + row * (w.bytes / rows), out, in);
}

}  // namespace smoe::ops
