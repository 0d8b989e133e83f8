// Type table of the container's tensor types and overflow-checked size arithmetic.
#include "quant/formats/tensor_type.h"

#include <array>
#include <cstring>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/half.h"
#include "quant/formats/untyped_kernels.h"

namespace smoe::quant {
namespace {

// The float types' row conversions (no blocks).
void copy_f32(const float* src, void* dst, size_t n, const float*) { std::memcpy(dst, src, n * sizeof(float)); }
void copy_f32(const void* src, float* dst, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void f32_to_f16_row(const float* src, void* dst, size_t n, const float*) {
  auto* out = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = f32_to_f16(src[i]);
}
void f16_to_f32_row(const void* src, float* dst, size_t n) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(in[i]);
}
void f32_to_bf16_row(const float* src, void* dst, size_t n, const float*) {
  auto* out = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = f32_to_bf16(src[i]);
}
void bf16_to_f32_row(const void* src, float* dst, size_t n) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(in[i]);
}

// One row per type, in id order (checked below).
constexpr std::array<TypeTraits, kTensorTypeCount> kTraits = {{
    {.type = TensorType::f32,
     .name = "f32",
     .block_elements = 1,
     .block_bytes = 4,
     .quantize_row = copy_f32,
     .dequantize_row = copy_f32},
    {.type = TensorType::f16,
     .name = "f16",
     .block_elements = 1,
     .block_bytes = 2,
     .quantize_row = f32_to_f16_row,
     .dequantize_row = f16_to_f32_row},
    {.type = TensorType::bf16,
     .name = "bf16",
     .block_elements = 1,
     .block_bytes = 2,
     .quantize_row = f32_to_bf16_row,
     .dequantize_row = bf16_to_f32_row},
    {.type = TensorType::q8,
     .name = "q8",
     .block_elements = BlockQ8::kElements,
     .block_bytes = sizeof(BlockQ8),
     .is_quantized = true,
     .quantize_row = quantize_kernel<quantize_row_q8_ref>,
     .dequantize_row = decode_kernel<dequantize_row_q8_ref>},
    {.type = TensorType::q4,
     .name = "q4",
     .block_elements = BlockQ4::kElements,
     .block_bytes = sizeof(BlockQ4),
     .is_quantized = true,
     .quantize_row = quantize_kernel<quantize_row_q4_ref>,
     .dequantize_row = decode_kernel<dequantize_row_q4_ref>},
    {.type = TensorType::u8, .name = "u8", .block_elements = 1, .block_bytes = 1},
    {.type = TensorType::q4k,
     .name = "q4k",
     .block_elements = BlockQ4K::kElements,
     .block_bytes = sizeof(BlockQ4K),
     .is_quantized = true,
     .quantize_row = quantize_kernel<quantize_row_q4k_ref>,
     .dequantize_row = decode_kernel<dequantize_row_q4k_ref>},
    {.type = TensorType::q6k,
     .name = "q6k",
     .block_elements = BlockQ6K::kElements,
     .block_bytes = sizeof(BlockQ6K),
     .is_quantized = true,
     .quantize_row = quantize_kernel<quantize_row_q6k_ref>,
     .dequantize_row = decode_kernel<dequantize_row_q6k_ref>},
    {.type = TensorType::q3k,
     .name = "q3k",
     .block_elements = BlockQ3K::kElements,
     .block_bytes = sizeof(BlockQ3K),
     .is_quantized = true,
     .quantize_row = quantize_kernel<quantize_row_q3k_ref>,
     .dequantize_row = decode_kernel<dequantize_row_q3k_ref>},
    {.type = TensorType::q4k_x8,
     .name = "q4k_x8",
     .block_elements = BlockQ4Kx8::kElements,
     .block_bytes = sizeof(BlockQ4Kx8) / BlockQ4Kx8::kRows,
     .is_quantized = true,
     .row_group = BlockQ4Kx8::kRows,
     .interleaves = TensorType::q4k},
    {.type = TensorType::q8_x8,
     .name = "q8_x8",
     .block_elements = BlockQ8x8::kElements,
     .block_bytes = sizeof(BlockQ8x8) / BlockQ8x8::kRows,
     .is_quantized = true,
     .row_group = BlockQ8x8::kRows,
     .interleaves = TensorType::q8},
}};

constexpr bool in_id_order() {
  for (size_t id = 0; id < kTraits.size(); ++id) {
    if (static_cast<size_t>(kTraits[id].type) != id) return false;
  }
  return true;
}
static_assert(in_id_order(), "kTraits[id] must be the row of type id");

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

TensorType row_type(TensorType type) { return type_traits(type).interleaves.value_or(type); }

std::optional<TensorType> interleaved_type(TensorType type) {
  for (const TypeTraits& traits : kTraits) {
    if (traits.interleaves == type) return traits.type;
  }
  return std::nullopt;
}

double bits_per_weight(TensorType type) {
  const TypeTraits& traits = type_traits(type);
  return 8.0 * traits.block_bytes / traits.block_elements;
}

}  // namespace smoe::quant
