// Diagonal blocks of X^T X by oneDNN's sgemm (see gram.h).
#include "ops/gram.h"

#include <dnnl.h>

#include <string>

#include "smoe/error.h"

namespace smoe::ops {

void add_gram_blocks(const float* x, size_t rows, size_t columns, size_t block, float* sums, const char* what) {
  if (rows == 0 || block == 0) return;
  const auto dim = [](size_t value) { return static_cast<dnnl_dim_t>(value); };
  for (size_t first = 0; first < columns; first += block) {
    // Row-major: C (block, block) += A^T B with A = B = x's columns [first, first + block).
    const dnnl_status_t status = dnnl_sgemm('T', 'N', dim(block), dim(block), dim(rows), 1.0f, x + first, dim(columns),
                                            x + first, dim(columns), 1.0f, sums + first * block, dim(block));
    if (status != dnnl_success) throw Error(what, "oneDNN sgemm failed with status " + std::to_string(int(status)));
  }
}

}  // namespace smoe::ops
