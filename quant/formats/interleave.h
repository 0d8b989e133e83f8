// The interleaved row-group types (q4k_x8, q8_x8: TypeTraits::row_group rows stored side by
// side, the decode layouts) behind one interface, for the converter's writer and the runtime's
// row readers, which handle any of them alike.
#pragma once

#include <cstddef>

#include "quant/formats/tensor_type.h"

namespace smoe::quant {

struct Kernels;

// The largest TypeTraits::row_group of any type.
inline constexpr size_t kMaxRowGroup = 8;

// Rows rows[0..row_group) of row_type(interleaved) (n weights each) -> the interleaved blocks
// of `interleaved` at `out`.
void interleave_rows(TensorType interleaved, const std::byte* const rows[], std::byte* out, size_t n);

// The reverse, bit for bit: n weights of each row of a group of `interleaved` at `blocks` ->
// rows[0..row_group) as row_type(interleaved) blocks, by the de-interleavers of `kernels`.
void deinterleave_rows(const Kernels& kernels, TensorType interleaved, const std::byte* blocks, std::byte* const rows[], size_t n);

}  // namespace smoe::quant
