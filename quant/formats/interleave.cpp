// Dispatch of interleaving and de-interleaving by type (quant/formats/interleave.h).
#include "quant/formats/interleave.h"

#include <stdexcept>
#include <string>

#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/kernels.h"

namespace smoe::quant {
namespace {

static_assert(kMaxRowGroup == BlockQ4Kx8::kRows && kMaxRowGroup == BlockQ8x8::kRows);

// The row pointers of a group as `Block` pointers.
template <class Block, class Byte>
void as_blocks(Byte* const rows[], Block* out[kMaxRowGroup]) {
  for (size_t r = 0; r < kMaxRowGroup; ++r) out[r] = reinterpret_cast<Block*>(rows[r]);
}

}  // namespace

void interleave_rows(TensorType interleaved, const std::byte* const rows[], std::byte* out, size_t n) {
  switch (interleaved) {
    case TensorType::q4k_x8: {
      const BlockQ4K* group[kMaxRowGroup];
      as_blocks(rows, group);
      return interleave_q4k_x8(group, reinterpret_cast<BlockQ4Kx8*>(out), n);
    }
    case TensorType::q8_x8: {
      const BlockQ8* group[kMaxRowGroup];
      as_blocks(rows, group);
      return interleave_q8_x8(group, reinterpret_cast<BlockQ8x8*>(out), n);
    }
    default: break;
  }
  throw std::invalid_argument("interleave_rows: " + std::string(type_name(interleaved)) + " is not interleaved");
}

void deinterleave_rows(const Kernels& kernels, TensorType interleaved, const std::byte* blocks, std::byte* const rows[], size_t n) {
  const auto deinterleave = kernels.for_type(interleaved).deinterleave;
  if (deinterleave == nullptr) {
    throw std::invalid_argument("deinterleave_rows: " + std::string(type_name(interleaved)) + " is not interleaved");
  }
  void* group[kMaxRowGroup];
  for (size_t r = 0; r < kMaxRowGroup; ++r) group[r] = rows[r];
  deinterleave(blocks, group, n);
}

}  // namespace smoe::quant
