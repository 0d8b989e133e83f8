// Row-parallel matrix products over the scalar reference dot kernels.
#include "ops/matmul.h"

#include <vector>

#include "quant/convert_row.h"
#include "quant/kernels.h"
#include "quant/row_dot.h"
#include "smoe/error.h"

namespace smoe::ops {

namespace {

using QuantizedDot = float (*)(const void* row, const quant::BlockQ8A* a, size_t n);

// The integer kernel for a quantized weight type, or nullptr for the float types.
QuantizedDot quantized_dot(quant::TensorType type, const quant::Kernels& kernels) {
  switch (type) {
    case quant::TensorType::q8: return reinterpret_cast<QuantizedDot>(kernels.dot_q8);
    case quant::TensorType::q4: return reinterpret_cast<QuantizedDot>(kernels.dot_q4);
    case quant::TensorType::q4k: return reinterpret_cast<QuantizedDot>(kernels.dot_q4k);
    default: return nullptr;
  }
}

// Quantized weights: activations are quantized to 8 bits once per call, then every row is an
// integer dot product (the run-time selected kernel) with each token.
void matmul_quantized(const format::TensorView& w, QuantizedDot dot, const quant::Kernels& kernels, const float* x,
                      size_t n_tokens, float* y, int threads) {
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t row_bytes = w.bytes / rows, blocks = in / quant::BlockQ8A::kElements;
  std::vector<quant::BlockQ8A> activations(n_tokens * blocks);
  for (size_t t = 0; t < n_tokens; ++t) kernels.quantize_q8a(x + t * in, &activations[t * blocks], in);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t r = 0; r < rows; ++r) {
    for (size_t t = 0; t < n_tokens; ++t) y[t * rows + r] = dot(w.data + r * row_bytes, &activations[t * blocks], in);
  }
}

}  // namespace

void matmul(const format::TensorView& w, const float* x, size_t n_tokens, float* y, int threads) {
  if (w.shape.size() != 2) throw Error(w.name, "matmul needs a matrix");
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t row_bytes = w.bytes / rows;
  const quant::Kernels& kernels = quant::active_kernels();
  if (const QuantizedDot dot = quantized_dot(w.type, kernels)) {
    matmul_quantized(w, dot, kernels, x, n_tokens, y, threads);
    return;
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
