// The converter's choice of column panels (format/panels.h).
#include "format/panels.h"

#include <algorithm>
#include <vector>

#include "quant/formats/interleave.h"
#include "quant/formats/tensor_type.h"

namespace smoe::format {

const std::byte* RowReader::deinterleaved(uint64_t row) {
  const uint64_t group = quant::type_traits(w_.type).row_group, first = row - row % group;
  const uint64_t width = panel_width(w_), panels = panel_count(w_), row_bytes = panels * piece_bytes_;
  if (first != group_first_) {
    group_.resize(group * row_bytes);
    for (uint64_t p = 0; p < panels; ++p) {
      std::byte* panel_rows[quant::kMaxRowGroup];
      for (uint64_t r = 0; r < group; ++r) panel_rows[r] = group_.data() + r * row_bytes + p * piece_bytes_;
      quant::deinterleave_rows(kernels_, w_.type, panel_row(w_, p, first), panel_rows, width);
    }
    group_first_ = first;
  }
  return group_.data() + (row - first) * row_bytes;
}

uint64_t choose_panel_columns(quant::TensorType type, uint64_t columns, uint64_t max_columns) {
  const quant::TypeTraits traits = quant::type_traits(type);
  if (!traits.is_quantized || max_columns == 0 || columns <= max_columns || columns % traits.block_elements != 0) {
    return 0;
  }
  const uint64_t block = traits.block_elements, blocks = columns / block;
  const uint64_t widest = max_columns / block, narrowest = std::max<uint64_t>(1, (max_columns / 4 + block - 1) / block);
  for (uint64_t width = widest; width >= narrowest; --width) {
    if (blocks % width == 0) return width * block;
  }
  return 0;
}

}  // namespace smoe::format
