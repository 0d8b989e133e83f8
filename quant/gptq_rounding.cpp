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
#include "quant/cpu_features.h"
#include "quant/formats/round_to_even.h"
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

// The factorization's sums side by side: each lane one entry's sum, computed as the textbook
// loop computes it (the same products, subtracted or added in the same order), so the results
// are bit for bit the textbook's (tests/unit/test_gptq_rounding.cpp compares them). One entry's
// sum is a chain of dependent additions; lanes of independent entries hide its latency.
constexpr size_t kSumLanes = 8;
using SumLanes = double __attribute__((vector_size(kSumLanes * sizeof(double))));

SumLanes load_lanes(const double* p) {
  SumLanes v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

// a (n, n) symmetric -> its lower Cholesky factor L (a = L L^T) in the lower triangle; the
// upper triangle is left as it was. False when a pivot is not positive. Column j's entries
// below the diagonal are independent given the columns before it: they go eight rows at a time,
// reading the earlier columns from a transposed copy (columns_of_l[k n + i] = L[i][k]).
bool cholesky_lower(std::vector<double>& a, size_t n) {
  std::vector<double> columns_of_l(n * n);
  for (size_t j = 0; j < n; ++j) {
    double pivot = a[j * n + j];
    for (size_t k = 0; k < j; ++k) pivot -= a[j * n + k] * a[j * n + k];
    if (!(pivot > 0.0)) return false;
    const double diagonal = std::sqrt(pivot);
    a[j * n + j] = diagonal;
    columns_of_l[j * n + j] = diagonal;
    size_t i = j + 1;
    for (; i + kSumLanes <= n; i += kSumLanes) {
      SumLanes sum = load_lanes(&a[j * n + i]);  // a[i][j] by symmetry: the upper triangle is a's
      for (size_t k = 0; k < j; ++k) sum -= load_lanes(&columns_of_l[k * n + i]) * a[j * n + k];
      sum /= diagonal;
      for (size_t lane = 0; lane < kSumLanes; ++lane) {
        a[(i + lane) * n + j] = columns_of_l[j * n + i + lane] = sum[lane];
      }
    }
    for (; i < n; ++i) {
      double sum = a[i * n + j];
      for (size_t k = 0; k < j; ++k) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = columns_of_l[j * n + i] = sum / diagonal;
    }
  }
  return true;
}

// The inverse of the lower triangle of l (n, n), itself lower triangular. Row i's entries are
// independent given the rows before it: eight columns at a time. A lane whose column starts
// after the group's first adds l[i][k] x 0 (the inverse's upper triangle) before its first
// term: +0 plus a zero is +0, so its sum is still the textbook's, which starts at its column.
std::vector<double> invert_lower(const std::vector<double>& l, size_t n) {
  std::vector<double> inverse(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    size_t j = 0;
    for (; j + kSumLanes <= i; j += kSumLanes) {
      SumLanes sum = {};
      for (size_t k = j; k < i; ++k) sum += load_lanes(&inverse[k * n + j]) * l[i * n + k];
      const SumLanes entries = -sum / l[i * n + i];
      __builtin_memcpy(&inverse[i * n + j], &entries, sizeof entries);
    }
    for (; j < i; ++j) {
      double sum = 0;
      for (size_t k = j; k < i; ++k) sum += l[i * n + k] * inverse[k * n + j];
      inverse[i * n + j] = -sum / l[i * n + i];
    }
    inverse[i * n + i] = 1.0 / l[i * n + i];
  }
  return inverse;
}

namespace {

// The rounding works on tiles of up to kTileRows rows held column by column (tile[c kTileRows
// + r] is row r's weight in column c), one vector lane per row: the rows are independent, and
// each weight gets exactly the operations the one-row algorithm applies to it, in the same
// order, so the bytes are those of rounding each row alone. Across rows the vectors hide what
// one row cannot: every column's rounding waits on the one before it (its error, a division,
// updates the next column), a chain of dozens of cycles per weight.
constexpr size_t kTileRows = 8;
using RowVector = float __attribute__((vector_size(kTileRows * sizeof(float))));

// Always inlined into the kernels below, at every optimization level: a vector of eight floats
// is passed and returned differently with and without AVX, so a real call between the AVX2 clone
// and a helper compiled without it would mismatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
[[gnu::always_inline]] inline RowVector load_rows(const float* p) {
  RowVector v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
[[gnu::always_inline]] inline void store_rows(float* p, RowVector v) { __builtin_memcpy(p, &v, sizeof(v)); }

// Errors of this many columns are applied to the columns after them together.
constexpr size_t kErrorChunk = 32;

// Rounds the tile's columns [0, count) (count <= kErrorChunk) on their grids (step, inverse,
// shift per column and row, laid out as the tile), one column after the other, each error
// spread at once over the chunk's later columns (U's rows `u`, `stride` apart, starting at the
// chunk's first column); the errors go to `errors` (laid out as the tile). Levels are rounded
// by round_to_even (std::nearbyint's result below 2^22; beyond it the clamp gives the same
// extreme level), clamped as std::clamp does.
[[gnu::always_inline]] inline void round_chunk_body(float* __restrict tile, const float* __restrict u, size_t stride,
                                                    const float* __restrict step, const float* __restrict inverse,
                                                    const float* __restrict shift, float lowest, float highest,
                                                    size_t count, float* __restrict errors) {
  for (size_t j = 0; j < count; ++j) {
    const RowVector w = load_rows(tile + j * kTileRows), grid_shift = load_rows(shift + j * kTileRows);
    // round_to_even on eight lanes (the scalar function would take one lane at a time).
    RowVector level = ((w + grid_shift) * load_rows(inverse + j * kTileRows) + kRoundToEvenMagic) - kRoundToEvenMagic;
    level = level < lowest ? RowVector{} + lowest : level;    // std::max(level, lowest)
    level = highest < level ? RowVector{} + highest : level;  // std::min(level, highest)
    const RowVector rounded = load_rows(step + j * kTileRows) * level - grid_shift;
    // Algorithm 1: E = (w_j - q_j) / [H^-1]_jj (its Cholesky form), W_{j+1:} -= E U_{j, j+1:}.
    const float* u_row = u + j * stride;
    const RowVector error = (w - rounded) / u_row[j];
    store_rows(errors + j * kTileRows, error);
    for (size_t k = j + 1; k < count; ++k) {
      store_rows(tile + k * kTileRows, load_rows(tile + k * kTileRows) - error * u_row[k]);
    }
  }
}

// tile column k -= errors[t] x u[t stride + k] for every term t in order, for k < count: a
// chunk's errors applied to the columns after it (the same operations on each weight, in the
// same order, as applying each error when it is made).
[[gnu::always_inline]] inline void subtract_chunk_errors_body(float* __restrict tile, const float* __restrict u,
                                                              size_t stride, const float* __restrict errors,
                                                              size_t terms, size_t count) {
  for (size_t k = 0; k < count; ++k) {
    RowVector w = load_rows(tile + k * kTileRows);
    for (size_t t = 0; t < terms; ++t) w -= load_rows(errors + t * kTileRows) * u[t * stride + k];
    store_rows(tile + k * kTileRows, w);
  }
}

// Each kernel twice: as compiled, and for AVX2 (twice the lanes; not FMA, whose single
// rounding would change the bytes by machine), picked by the CPU's features. Not by
// target_clones: its ifunc resolvers run during relocation, before a sanitizer's runtime is
// up, and crash instrumented builds.
#if defined(__x86_64__) && defined(__GNUC__)
#define SMOE_GPTQ_AVX2 1
__attribute__((target("avx2"))) void round_chunk_avx2(float* tile, const float* u, size_t stride, const float* step,
                                                      const float* inverse, const float* shift, float lowest,
                                                      float highest, size_t count, float* errors) {
  round_chunk_body(tile, u, stride, step, inverse, shift, lowest, highest, count, errors);
}
__attribute__((target("avx2"))) void subtract_chunk_errors_avx2(float* tile, const float* u, size_t stride,
                                                                const float* errors, size_t terms, size_t count) {
  subtract_chunk_errors_body(tile, u, stride, errors, terms, count);
}
#endif

#pragma GCC diagnostic pop

bool runs_avx2() {
  static const bool avx2 = cpu_features().avx2;
  return avx2;
}

void round_chunk(float* tile, const float* u, size_t stride, const float* step, const float* inverse,
                 const float* shift, float lowest, float highest, size_t count, float* errors) {
#ifdef SMOE_GPTQ_AVX2
  if (runs_avx2()) return round_chunk_avx2(tile, u, stride, step, inverse, shift, lowest, highest, count, errors);
#endif
  round_chunk_body(tile, u, stride, step, inverse, shift, lowest, highest, count, errors);
}

void subtract_chunk_errors(float* tile, const float* u, size_t stride, const float* errors, size_t terms,
                           size_t count) {
#ifdef SMOE_GPTQ_AVX2
  if (runs_avx2()) return subtract_chunk_errors_avx2(tile, u, stride, errors, terms, count);
#endif
  subtract_chunk_errors_body(tile, u, stride, errors, terms, count);
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

void quantize_rows_gptq(TensorType type, QuantizeRowKernel quantize_row, const float* src, void* dst, size_t rows,
                        size_t n, const float* importance, const float* factors, size_t block_columns) {
  const GroupFormat* format = find_format(type);
  if (format == nullptr) throw std::invalid_argument("quantize_row_gptq: a type without GPTQ rounding");
  const size_t group = format->elements;
  if (block_columns == 0 || block_columns % group != 0 || n % block_columns != 0) {
    throw std::invalid_argument("quantize_row_gptq: blocks of H must be whole groups and divide the row");
  }
  const size_t row_bytes = n / group * format->bytes;
  std::vector<float> tile(block_columns * kTileRows);  // the rows as the errors of earlier columns leave them
  std::vector<float> step(group * kTileRows), inverse(group * kTileRows), shift(group * kTileRows);
  std::vector<float> row(group);
  std::vector<RoundingGrid> grids(group);
  float errors[kErrorChunk * kTileRows];
  auto* out = static_cast<std::byte*>(dst);
  for (size_t first_row = 0; first_row < rows; first_row += kTileRows) {
    const size_t tile_rows = std::min(kTileRows, rows - first_row);
    for (size_t first = 0; first < n; first += block_columns) {
      const float* u = factors + (first / block_columns) * block_columns * block_columns;  // (block, block)
      std::fill(tile.begin(), tile.end(), 0.0f);  // lanes past the last row: rounded, never written
      std::fill(step.begin(), step.end(), 0.0f);
      std::fill(inverse.begin(), inverse.end(), 0.0f);
      std::fill(shift.begin(), shift.end(), 0.0f);
      for (size_t r = 0; r < tile_rows; ++r) {
        const float* source = src + (first_row + r) * n + first;
        for (size_t c = 0; c < block_columns; ++c) tile[c * kTileRows + r] = source[c];
      }
      for (size_t start = 0; start < block_columns; start += group) {
        // Each row's group scales, searched on its weights as they are now.
        for (size_t r = 0; r < tile_rows; ++r) {
          void* block = out + (first_row + r) * row_bytes + (first + start) / group * format->bytes;
          for (size_t c = 0; c < group; ++c) row[c] = tile[(start + c) * kTileRows + r];
          quantize_row(row.data(), block, group, importance ? importance + first + start : nullptr);
          format->grids(block, grids.data());
          for (size_t c = 0; c < group; ++c) {
            step[c * kTileRows + r] = grids[c].step;
            inverse[c * kTileRows + r] = grids[c].inverse;
            shift[c * kTileRows + r] = grids[c].shift;
          }
        }
        // Errors spread at once within a chunk, whose next columns are rounded next, and
        // after it over the rest of the block.
        for (size_t chunk = start; chunk < start + group; chunk += kErrorChunk) {
          const size_t chunk_end = std::min(chunk + kErrorChunk, start + group), in_group = chunk - start;
          round_chunk(tile.data() + chunk * kTileRows, u + chunk * block_columns + chunk, block_columns,
                      step.data() + in_group * kTileRows, inverse.data() + in_group * kTileRows,
                      shift.data() + in_group * kTileRows, format->lowest, format->highest, chunk_end - chunk, errors);
          subtract_chunk_errors(tile.data() + chunk_end * kTileRows, u + chunk * block_columns + chunk_end,
                                block_columns, errors, chunk_end - chunk, block_columns - chunk_end);
        }
        // The values each column was rounded to above (the same rounding of the same numbers).
        for (size_t r = 0; r < tile_rows; ++r) {
          void* block = out + (first_row + r) * row_bytes + (first + start) / group * format->bytes;
          for (size_t c = 0; c < group; ++c) row[c] = tile[(start + c) * kTileRows + r];
          format->set_values(row.data(), block);
        }
      }
    }
  }
}

void quantize_row_gptq(TensorType type, QuantizeRowKernel quantize_row, const float* src, void* dst, size_t n,
                       const float* importance, const float* factors, size_t block_columns) {
  quantize_rows_gptq(type, quantize_row, src, dst, 1, n, importance, factors, block_columns);
}

}  // namespace smoe::quant
