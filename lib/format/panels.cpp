// The converter's choice of column panels (format/panels.h).
#include "format/panels.h"

#include <algorithm>

#include "quant/tensor_type.h"

namespace smoe::format {

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
