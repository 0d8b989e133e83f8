// oneDNN sgemm over weight rows decoded to f32 in chunks of about 4 MiB.
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/gemm.h"
#include "quant/convert_row.h"
#include "smoe/error.h"

namespace smoe::ops {
namespace {

constexpr size_t kChunkBytes = 32u << 20;

// oneDNN's OpenMP build uses omp_get_max_threads(): set it for this call only, so the host
// application's own setting (and other sessions') stays as it was.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : previous_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ScopedOmpThreads() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

}  // namespace

void gemm(const format::TensorView& w, const float* x, size_t n_tokens, float* y, int threads) {
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t row_bytes = w.bytes / rows;
  const size_t chunk_rows = std::max<size_t>(1, std::min(rows, kChunkBytes / (in * sizeof(float))));
  std::vector<float> decoded(chunk_rows * in);  // (chunk_rows, in)
  const ScopedOmpThreads scoped(threads);
  for (size_t first = 0; first < rows; first += chunk_rows) {
    const size_t count = std::min(chunk_rows, rows - first);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t r = 0; r < count; ++r) {
      quant::dequantize_row(w.type, w.data + (first + r) * row_bytes, &decoded[r * in], in);
    }
    // y[:, first:first+count] = x (n, in) @ decoded^T (in, count)
    const dnnl_status_t status =
        dnnl_sgemm('N', 'T', static_cast<dnnl_dim_t>(n_tokens), static_cast<dnnl_dim_t>(count),
                   static_cast<dnnl_dim_t>(in), 1.0f, x, static_cast<dnnl_dim_t>(in), decoded.data(),
                   static_cast<dnnl_dim_t>(in), 0.0f, y + first, static_cast<dnnl_dim_t>(rows));
    if (status != dnnl_success) throw Error(w.name, "oneDNN sgemm failed with status " + std::to_string(int(status)));
  }
}

}  // namespace smoe::ops
