// Addressing of matrices stored in column panels (TensorView::panel_columns, docs/FORMAT.md).
//
// Why panels: a matrix-vector product streams each weight row once against the same
// activations. With rows of 14336 columns (Mixtral's down projection) the 8-bit activations
// are 17 KB, and the weight stream passing through a 32 KB L1 evicts them: the down
// projections read from DRAM at about half the rate of the 4096-column matrices, on the same
// bytes. Stored as panels of <= 4096 columns, each panel is one sequential stream against
// 4-5 KB of activations that stay in L1 (docs/PERFORMANCE-HISTORY.md, column panels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/container.h"
#include "quant/kernels.h"
#include "quant/formats/tensor_type.h"

namespace smoe::format {

// Columns per panel: the full row for contiguous matrices.
inline uint64_t panel_width(const TensorView& w) { return w.panel_columns != 0 ? w.panel_columns : w.shape.back(); }
inline uint64_t panel_count(const TensorView& w) { return w.shape.back() / panel_width(w); }

// First byte of row `row`'s columns [p W, (p + 1) W): panels are equal, back to back. For an
// interleaved type (q4k_x8, q8_x8), `row` must begin a group: the group's bytes in that panel.
inline const std::byte* panel_row(const TensorView& w, uint64_t panel, uint64_t row) {
  const uint64_t panel_bytes = w.bytes / panel_count(w);
  return w.data + panel * panel_bytes + row * (panel_bytes / w.shape[0]);
}

// Reads a matrix's rows piece by piece (one piece per column panel, left to right; the whole
// row for contiguous matrices) as blocks of quant::row_type(w.type): rows of an interleaved type
// (quant::TypeTraits::row_group > 1: q4k_x8, q8_x8) come de-interleaved, their group (every panel of
// it) once into this reader's buffer and kept for the group's other rows, so callers that go
// row by row de-interleave each group once, by the de-interleavers of `kernels`. One reader per
// thread.
class RowReader {
 public:
  explicit RowReader(const TensorView& w, const quant::Kernels& kernels = quant::scalar_kernels())
      : w_(w), kernels_(kernels), interleaved_(quant::type_traits(w.type).row_group > 1),
        piece_bytes_(*quant::row_bytes(quant::row_type(w.type), panel_width(w))) {}

  // Calls piece(bytes, first_column, columns) for each panel's part of row `row`.
  template <class Piece>
  void for_each_piece(uint64_t row, Piece piece) {
    const uint64_t width = panel_width(w_), panels = panel_count(w_);
    if (interleaved_) {
      const std::byte* whole = deinterleaved(row);
      for (uint64_t p = 0; p < panels; ++p) piece(whole + p * piece_bytes_, p * width, width);
      return;
    }
    for (uint64_t p = 0; p < panels; ++p) piece(panel_row(w_, p, row), p * width, width);
  }

 private:
  const std::byte* deinterleaved(uint64_t row);  // row `row`, all its panels, as contiguous row_type blocks

  const TensorView& w_;
  const quant::Kernels& kernels_;
  bool interleaved_;
  uint64_t piece_bytes_;                  // a panel's part of a row, as row_type
  uint64_t group_first_ = ~uint64_t{0};  // first row of the group in group_
  std::vector<std::byte> group_;
};

// One row's pieces through a reader of its own (one-off reads; loops over rows keep a RowReader).
template <class Piece>
void for_each_row_piece(const TensorView& w, uint64_t row, Piece piece) {
  RowReader(w).for_each_piece(row, piece);
}

// The column width the converter stores a matrix of `columns` columns of `type` in, for
// panels of at most `max_columns`: the widest whole number of blocks that divides the row
// evenly, or 0 (contiguous rows) where the row fits in one panel, `type` is not block-quantized
// (the float kernels and bf16's in-place prompt product want whole rows), or only panels of
// less than a quarter of `max_columns` would divide it.
uint64_t choose_panel_columns(quant::TensorType type, uint64_t columns, uint64_t max_columns);

}  // namespace smoe::format
