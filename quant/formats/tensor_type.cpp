// Type table of the container's tensor types and overflow-checked size arithmetic.
#include "quant/formats/tensor_type.h"

#include <array>

#include "quant/formats/block_q4.h"
#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"

namespace smoe::quant {
namespace {

constexpr std::array<TypeTraits, 11> kTraits = {{
    {"f32", 1, 4, false},
    {"f16", 1, 2, false},
    {"bf16", 1, 2, false},
    {"q8", BlockQ8::kElements, sizeof(BlockQ8), true},
    {"q4", BlockQ4::kElements, sizeof(BlockQ4), true},
    {"u8", 1, 1, false},
    {"q4k", BlockQ4K::kElements, sizeof(BlockQ4K), true},
    {"q6k", BlockQ6K::kElements, sizeof(BlockQ6K), true},
    {"q3k", BlockQ3K::kElements, sizeof(BlockQ3K), true},
    {"q4k_x8", BlockQ4Kx8::kElements, sizeof(BlockQ4Kx8) / BlockQ4Kx8::kRows, true, BlockQ4Kx8::kRows},
    {"q8_x8", BlockQ8x8::kElements, sizeof(BlockQ8x8) / BlockQ8x8::kRows, true, BlockQ8x8::kRows},
}};

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t type_id) {
  if (type_id >= kTraits.size()) return std::nullopt;
  return kTraits[type_id];
}

const TypeTraits& type_traits(TensorType type) { return kTraits.at(static_cast<uint32_t>(type)); }

std::string_view type_name(TensorType type) { return type_traits(type).name; }

std::optional<TensorType> parse_type_name(std::string_view name) {
  for (uint32_t id = 0; id < kTraits.size(); ++id) {
    if (kTraits[id].name == name) return static_cast<TensorType>(id);
  }
  return std::nullopt;
}

bool row_fits_type(TensorType type, uint64_t row_elements) {
  return row_elements % type_traits(type).block_elements == 0;
}

std::optional<uint64_t> row_bytes(TensorType type, uint64_t row_elements) {
  const TypeTraits& traits = type_traits(type);
  if (row_elements % traits.block_elements != 0) return std::nullopt;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(row_elements / traits.block_elements, uint64_t{traits.block_bytes}, &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

std::optional<uint64_t> tensor_bytes(TensorType type, std::span<const uint64_t> shape) {
  if (shape.empty()) return row_bytes(type, 1);
  uint64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) {
    if (__builtin_mul_overflow(rows, shape[i], &rows)) return std::nullopt;
  }
  if (rows % type_traits(type).row_group != 0 || (type_traits(type).row_group > 1 && shape.size() < 2)) {
    return std::nullopt;
  }
  const std::optional<uint64_t> one_row = row_bytes(type, shape.back());
  uint64_t bytes = 0;
  if (!one_row || __builtin_mul_overflow(rows, *one_row, &bytes)) return std::nullopt;
  return bytes;
}

TensorType row_type(TensorType type) {
  switch (type) {
    case TensorType::q4k_x8: return TensorType::q4k;
    case TensorType::q8_x8: return TensorType::q8;
    default: return type;
  }
}

std::optional<TensorType> interleaved_type(TensorType type) {
  switch (type) {
    case TensorType::q4k: return TensorType::q4k_x8;
    case TensorType::q8: return TensorType::q8_x8;
    default: return std::nullopt;
  }
}

double bits_per_weight(TensorType type) {
  const TypeTraits& traits = type_traits(type);
  return 8.0 * traits.block_bytes / traits.block_elements;
}

}  // namespace smoe::quant
