// The converter's choice of column panels (format/panels.h).
#include "format/panels.h"

#include <algorithm>
#include <vector>

#include "quant/block_q4k_x8.h"
#include "quant/kernels.h"
#include "quant/tensor_type.h"

namespace smoe::format {

const std::byte* RowReader::deinterleaved(uint64_t row) {
  constexpr uint64_t kRows = quant::BlockQ4Kx8::kRows;
  const uint64_t first = row - row % kRows, blocks = w_.shape.back() / quant::BlockQ4K::kElements;
  const uint64_t row_bytes = blocks * sizeof(quant::BlockQ4K);
  if (first != group_first_) {
    group_.resize(kRows * row_bytes);
    auto* rows = reinterpret_cast<quant::BlockQ4K*>(group_.data());
    const uint64_t width = panel_width(w_), panels = panel_count(w_), panel_blocks = width / quant::BlockQ4K::kElements;
    for (uint64_t p = 0; p < panels; ++p) {
      quant::BlockQ4K* panel_rows[kRows];
      for (uint64_t r = 0; r < kRows; ++r) panel_rows[r] = rows + r * blocks + p * panel_blocks;
      quant::active_kernels().deinterleave_q4k_x8_rows(
          reinterpret_cast<const quant::BlockQ4Kx8*>(panel_row(w_, p, first)), panel_rows, width);
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
