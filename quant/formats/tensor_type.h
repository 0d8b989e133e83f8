// Tensor element types of the .smoe container and their storage geometry.
//
// The numeric ids are part of the file format (docs/FORMAT.md): new block types get new ids
// at the end, existing ids never change meaning. A reader that meets an id it does not know
// refuses the file with a clear message instead of guessing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace smoe::quant {

enum class TensorType : uint32_t {
  f32 = 0,   // IEEE binary32
  f16 = 1,   // IEEE binary16
  bf16 = 2,  // bfloat16 (upper half of binary32)
  q8 = 3,    // BlockQ8: 32 weights, f16 scale, int8 values            (8.5 bits/weight)
  q4 = 4,    // BlockQ4: 32 weights, f16 scale and minimum, 4-bit values (5.0 bits/weight)
  u8 = 5,    // raw bytes (embedded files such as tokenizer.model), not a weight type
  q4k = 6,   // BlockQ4K: 256 weights in 8 sub-blocks, 6-bit sub-scales (4.5 bits/weight)
  q6k = 7,   // BlockQ6K: 256 weights in 16 sub-blocks, int8 sub-scales (6.5625 bits/weight)
  q3k = 8,   // BlockQ3K: 256 weights in 16 sub-blocks, 6-bit sub-scales (3.4375 bits/weight)
  q4k_x8 = 9,  // BlockQ4Kx8: q4k rows interleaved in groups of 8, the decode layout (block_q4k_x8.h; 4.5 bits/weight)
  q8_x8 = 10,  // BlockQ8x8: q8 rows interleaved in groups of 8, the decode layout (block_q8_x8.h; 8.5 bits/weight)
};
// How many ids there are: a new type takes id kTensorTypeCount and raises it by one.
inline constexpr size_t kTensorTypeCount = 11;

// One type's row of the type table: its storage geometry (`block_elements` elements occupy
// `block_bytes` bytes; a row of a tensor is a whole number of blocks, so quantized rows must be
// multiples of the block) and its scalar reference row conversions (convert_row.h). The kernel
// tables (kernels.h) hold the faster kernels, one row per type likewise.
struct TypeTraits {
  TensorType type;  // the row's own id (the table is checked to be in id order)
  std::string_view name;
  uint32_t block_elements;
  uint32_t block_bytes;  // per row: an interleaved type's block of 8 rows is 8 x this
  bool is_quantized = false;
  uint32_t row_group = 1;  // rows stored interleaved in groups of this many (q4k_x8, q8_x8: 8)
  // Interleaved types: the type of each of their rows (q4k for q4k_x8); std::nullopt for the others.
  std::optional<TensorType> interleaves = std::nullopt;
  // src (n,) f32 -> one row of `n` elements (quantize_row); nullptr: not a weight type, or rows
  // of an interleaved type (written as rows of `interleaves`).
  void (*quantize_row)(const float* src, void* dst, size_t n, const float* importance) = nullptr;
  // One row of `n` elements -> dst (n,) f32 (dequantize_row); nullptr as above.
  void (*dequantize_row)(const void* src, float* dst, size_t n) = nullptr;
};

// A table's rows of some types, by type: rows_by_type<Row>({{TensorType::q4k, {...}}, ...}) is
// the array indexed by type id, with those rows in their places and default rows elsewhere.
// The kernel tables (kernels.h, gemm_int8.h) are filled so, each row by field name.
template <class Row>
struct RowOfType {
  TensorType type;
  Row row;
};
template <class Row>
std::array<Row, kTensorTypeCount> rows_by_type(std::initializer_list<RowOfType<Row>> rows) {
  std::array<Row, kTensorTypeCount> table{};
  for (const RowOfType<Row>& entry : rows) table.at(static_cast<size_t>(entry.type)) = entry.row;
  return table;
}

// Traits of a known type; std::nullopt for an id this build does not know.
std::optional<TypeTraits> type_traits(uint32_t type_id);
const TypeTraits& type_traits(TensorType type);

std::string_view type_name(TensorType type);
// Parses a type name ("f32", "q4k", ..., and "u8"); std::nullopt for anything else.
std::optional<TensorType> parse_type_name(std::string_view name);

// Whether a row of `row_elements` can be stored in `type` (quantized types need whole blocks).
bool row_fits_type(TensorType type, uint64_t row_elements);

// Bytes of one row of `row_elements` elements; std::nullopt when the row is not a whole number
// of blocks or the size overflows 64 bits.
std::optional<uint64_t> row_bytes(TensorType type, uint64_t row_elements);

// Bytes of a tensor of `shape` (outermost dimension first; rows run along the last one);
// std::nullopt on overflow, a partial block, or (interleaved types) rows that are not whole
// groups. A 0-dimensional shape is one element.
std::optional<uint64_t> tensor_bytes(TensorType type, std::span<const uint64_t> shape);

// The type of one row of `type` once read out of its group (q4k for q4k_x8, q8 for q8_x8, which
// format::RowReader de-interleaves); `type` itself for the others. Row-wise code (decoders,
// requantizers) takes this type.
TensorType row_type(TensorType type);
// The interleaved type storing rows of `type` (q4k_x8 for q4k, q8_x8 for q8); std::nullopt for
// types without one.
std::optional<TensorType> interleaved_type(TensorType type);

// Bits per weight of `type`, e.g. 8.5 for q8.
double bits_per_weight(TensorType type);

}  // namespace smoe::quant
