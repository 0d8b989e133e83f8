// Sums of outer products of activations (Gram matrices), for calibration statistics: what the
// converter's GPTQ rounding needs of each weight matrix's inputs.
#pragma once

#include <cstddef>

namespace smoe::ops {

// x (rows, columns), columns = blocks x block: sums[b] (block, block) += x_b^T x_b for each
// diagonal block b of columns [b block, (b + 1) block), sums laid out block after block,
// row-major. Both triangles are written. Through oneDNN's sgemm (its own vector code on every
// CPU); throws smoe::Error naming `what` if it fails.
void add_gram_blocks(const float* x, size_t rows, size_t columns, size_t block, float* sums, const char* what);

}  // namespace smoe::ops
