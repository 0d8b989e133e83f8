// GPTQ rounding: the inverse Cholesky factor of a block of H, and the column-by-column rounding
// of one row with each error spread over the columns after it.
#include "quant/gptq_rounding.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/rounding_grid.h"

namespace smoe::quant {
namespace {

// What the rounding needs of a block format: its group (one block), the levels, the grid of a
// block whose scales are set, and the values written back against that grid.
struct GroupFormat {
  size_t elements;
  size_t bytes;
  float lowest, highest;
  void (*grids)(const void* block, RoundingGrid* out);
  void (*set_values)(const float* x, void* block);
};

template <class Block, void (*Grids)(const Block&, RoundingGrid*), void (*SetValues)(const float*, Block&)>
GroupFormat group_format(float lowest, float highest) {
  return {Block::kElements, sizeof(Block), lowest, highest,
          [](const void* block, RoundingGrid* out) { Grids(*static_cast<const Block*>(block), out); },
          [](const float* x, void* block) { SetValues(x, *static_cast<Block*>(block)); }};
}

const GroupFormat* find_format(TensorType type) {
  static const GroupFormat q4 = group_format<BlockQ4, q4_rounding_grids, q4_set_values>(0, 15);
  static const GroupFormat q4k = group_format<BlockQ4K, q4k_rounding_grids, q4k_set_values>(0, 15);
  static const GroupFormat q3k = group_format<BlockQ3K, q3k_rounding_grids, q3k_set_values>(-4, 3);
  static const GroupFormat q6k = group_format<BlockQ6K, q6k_rounding_grids, q6k_set_values>(-32, 31);
  switch (type) {
    case TensorType::q4: return &q4;
    case TensorType::q4k: return &q4k;
    case TensorType::q3k: return &q3k;
    case TensorType::q6k: return &q6k;
    default: return nullptr;
  }
}

// a (n, n) symmetric -> its lower Cholesky factor L (a = L L^T) in the lower triangle; the
// upper triangle is left as it was. False when a pivot is not positive.
bool cholesky_lower(std::vector<double>& a, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double pivot = a[j * n + j];
    for (size_t k = 0; k < j; ++k) pivot -= a[j * n + k] * a[j * n + k];
    if (!(pivot > 0.0)) return false;
    const double diagonal = std::sqrt(pivot);
    a[j * n + j] = diagonal;
    for (size_t i = j + 1; i < n; ++i) {
      double sum = a[i * n + j];
      for (size_t k = 0; k < j; ++k) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = sum / diagonal;
    }
  }
  return true;
}

// The inverse of the lower triangle of l (n, n), itself lower triangular.
std::vector<double> invert_lower(const std::vector<double>& l, size_t n) {
  std::vector<double> inverse(n * n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    inverse[j * n + j] = 1.0 / l[j * n + j];
    for (size_t i = j + 1; i < n; ++i) {
      double sum = 0;
      for (size_t k = j; k < i; ++k) sum += l[i * n + k] * inverse[k * n + j];
      inverse[i * n + j] = -sum / l[i * n + i];
    }
  }
  return inverse;
}

// w[k] -= e[t] x u[t stride + k] for every term t in order, for k < count: the errors of a
// chunk of columns applied to the columns after it at once. Each weight sees the same
// operations in the same order as when each error is applied as it is made (as Algorithm 1 does),
// so the bytes do not change; but the weights stay in registers across the terms, where
// applying errors one at a time loads and stores every weight once per error.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
void subtract_scaled_terms(float* __restrict w, const float* __restrict u, size_t stride, const float* __restrict e,
                           size_t terms, size_t count) {
  using Vector = float __attribute__((vector_size(32)));  // 8 lanes (two halves without AVX)
  constexpr size_t kLanes = 8, kVectors = 4, kTile = kLanes * kVectors;
  size_t k = 0;
  for (; k + kTile <= count; k += kTile) {
    Vector acc[kVectors];
    for (size_t v = 0; v < kVectors; ++v) __builtin_memcpy(&acc[v], w + k + v * kLanes, sizeof(Vector));
    for (size_t t = 0; t < terms; ++t) {
      const float* u_row = u + t * stride + k;
      const float s = e[t];
      const Vector scale = {s, s, s, s, s, s, s, s};
      for (size_t v = 0; v < kVectors; ++v) {
        Vector u_vector;
        __builtin_memcpy(&u_vector, u_row + v * kLanes, sizeof(Vector));
        acc[v] -= scale * u_vector;
      }
    }
    for (size_t v = 0; v < kVectors; ++v) __builtin_memcpy(w + k + v * kLanes, &acc[v], sizeof(Vector));
  }
  for (; k < count; ++k) {
    float value = w[k];
    for (size_t t = 0; t < terms; ++t) value -= e[t] * u[t * stride + k];
    w[k] = value;
  }
}

// Errors of this many columns are applied to the columns after them together.
constexpr size_t kErrorChunk = 32;

// Rounds columns [0, count) of `w` (count <= kErrorChunk) on their grids, one after the other,
// each error spread at once over the chunk's later columns (U's rows `u`, `stride` apart,
// starting at the chunk's first column); their errors go to `errors`. Levels are rounded to
// nearest even by adding and removing 1.5 x 2^23 (std::nearbyint's result below 2^22, and
// beyond it the clamp gives the same extreme level) rather than by a library call per weight.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
void round_chunk(float* __restrict w, const float* __restrict u, size_t stride, const RoundingGrid* grids,
                 float lowest, float highest, size_t count, float* __restrict errors) {
  constexpr float kMagic = 12582912.0f;
  for (size_t j = 0; j < count; ++j) {
    const RoundingGrid& grid = grids[j];
    const float level = std::clamp(((w[j] + grid.shift) * grid.inverse + kMagic) - kMagic, lowest, highest);
    const float rounded = grid.step * level - grid.shift;
    // Algorithm 1: E = (w_j - q_j) / [H^-1]_jj (its Cholesky form), W_{j+1:} -= E U_{j, j+1:}.
    const float* u_row = u + j * stride;
    const float error = (w[j] - rounded) / u_row[j];
    errors[j] = error;
    using Vector = float __attribute__((vector_size(32)));
    const Vector scale = {error, error, error, error, error, error, error, error};
    size_t k = j + 1;
    for (; k + 8 <= count; k += 8) {
      Vector w_vector, u_vector;
      __builtin_memcpy(&w_vector, w + k, sizeof(Vector));
      __builtin_memcpy(&u_vector, u_row + k, sizeof(Vector));
      w_vector -= scale * u_vector;
      __builtin_memcpy(w + k, &w_vector, sizeof(Vector));
    }
    for (; k < count; ++k) w[k] -= error * u_row[k];
  }
}

}  // namespace

bool gptq_rounds(TensorType row_type) { return find_format(row_type) != nullptr; }

size_t gptq_group_elements(TensorType row_type) {
  const GroupFormat* format = find_format(row_type);
  return format ? format->elements : 0;
}

bool gptq_inverse_factor(const float* covariance, size_t n, double dampening, float* factor) {
  std::vector<double> h(n * n);
  double diagonal_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i; j < n; ++j) h[i * n + j] = h[j * n + i] = covariance[i * n + j];
    diagonal_sum += std::max(0.0, h[i * n + i]);
  }
  if (!(diagonal_sum > 0.0) || !std::isfinite(diagonal_sum)) return false;
  const double lambda = dampening * diagonal_sum / double(n);
  for (size_t i = 0; i < n; ++i) {
    if (!(h[i * n + i] > 0.0)) h[i * n + i] = 1.0;  // an input never seen: its weights' errors cost nothing
    h[i * n + i] += lambda;
  }
  // With J the reversal of the columns' order: J H J = L L^T (L lower), so H = U' U'^T with
  // U' = J L J upper, and H^-1 = (U'^-1)^T U'^-1. U = U'^-1 is upper with a positive diagonal,
  // so it is the upper Cholesky factor of H^-1 (unique): one factorization and one triangular
  // inverse, where factoring H, inverting it and factoring the inverse took twice the work.
  std::vector<double> reversed(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  }
  if (!cholesky_lower(reversed, n)) return false;
  const std::vector<double> m = invert_lower(reversed, n);  // L^-1, lower
  // U = U'^-1 = J L^-1 J: U[i][j] = L^-1[n-1-i][n-1-j], upper.
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      factor[i * n + j] = j >= i ? static_cast<float>(m[(n - 1 - i) * n + (n - 1 - j)]) : 0.0f;
    }
  }
  return true;
}

void quantize_row_gptq(TensorType type, QuantizeRowKernel quantize_row, const float* src, void* dst, size_t n,
                       const float* importance, const float* factors, size_t block_columns) {
  const GroupFormat* format = find_format(type);
  if (format == nullptr) throw std::invalid_argument("quantize_row_gptq: a type without GPTQ rounding");
  const size_t group = format->elements;
  if (block_columns == 0 || block_columns % group != 0 || n % block_columns != 0) {
    throw std::invalid_argument("quantize_row_gptq: blocks of H must be whole groups and divide the row");
  }
  std::vector<float> w(src, src + n);  // the row as the errors of earlier columns leave it
  std::vector<RoundingGrid> grids(group);
  auto* out = static_cast<std::byte*>(dst);
  for (size_t first = 0; first < n; first += block_columns) {
    const float* u = factors + (first / block_columns) * block_columns * block_columns;  // (block, block)
    float* block_w = w.data() + first;
    for (size_t start = 0; start < block_columns; start += group) {
      void* block = out + (first + start) / group * format->bytes;
      // The group's scales, searched on its weights as they are now.
      quantize_row(block_w + start, block, group, importance ? importance + first + start : nullptr);
      format->grids(block, grids.data());
      for (size_t chunk = start; chunk < start + group; chunk += kErrorChunk) {
        const size_t chunk_end = std::min(chunk + kErrorChunk, start + group);
        // Errors spread at once within the chunk, whose next columns are rounded next, and
        // after it over the rest of the block.
        float errors[kErrorChunk];
        round_chunk(block_w + chunk, u + chunk * block_columns + chunk, block_columns, grids.data() + (chunk - start),
                    format->lowest, format->highest, chunk_end - chunk, errors);
        subtract_scaled_terms(block_w + chunk_end, u + chunk * block_columns + chunk_end, block_columns, errors,
                              chunk_end - chunk, block_columns - chunk_end);
      }
      // The values each column was rounded to above (the same rounding of the same numbers).
      format->set_values(block_w + start, block);
    }
  }
}

}  // namespace smoe::quant
