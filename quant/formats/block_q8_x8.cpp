// q8_x8: interleaving, de-interleaving and the scalar reference dot product.
#include "quant/formats/block_q8_x8.h"

#include <cstring>

#include "quant/formats/half.h"

namespace smoe::quant {

void interleave_q8_x8(const BlockQ8* const rows[8], BlockQ8x8* out, size_t n) {
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    for (size_t r = 0; r < 8; ++r) {
      const BlockQ8& row = rows[r][b];
      out[b].d[r] = row.d;
      for (size_t g = 0; g < 8; ++g) std::memcpy(out[b].qs + 32 * g + 4 * r, row.qs + 4 * g, 4);
    }
  }
}

void deinterleave_q8_x8_rows(const BlockQ8x8* blocks, BlockQ8* const rows[8], size_t n) {
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    for (size_t r = 0; r < 8; ++r) {
      BlockQ8& row = rows[r][b];
      row.d = blocks[b].d[r];
      for (size_t g = 0; g < 8; ++g) std::memcpy(row.qs + 4 * g, blocks[b].qs + 32 * g + 4 * r, 4);
    }
  }
}

void dot_q8_x8_q8a_ref(const BlockQ8x8* w, const BlockQ8A* a, size_t n, float* out) {
  for (size_t r = 0; r < 8; ++r) out[r] = 0.0f;
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    for (size_t r = 0; r < 8; ++r) {
      int32_t dot = 0;
      for (size_t i = 0; i < BlockQ8::kElements; ++i) dot += int32_t(w[b].qs[32 * (i / 4) + 4 * r + i % 4]) * a[b].qs[i];
      out[r] += f16_to_f32(w[b].d[r]) * a[b].d * float(dot);
    }
  }
}

}  // namespace smoe::quant
