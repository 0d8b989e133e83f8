// q4k_x8: interleaving, de-interleaving and the scalar reference dot product.
#include "quant/formats/block_q4k_x8.h"

#include <cstring>

#include "quant/formats/half.h"

namespace smoe::quant {
namespace {

// Byte of qs holding row r's q4k byte qs[i] (i < 128): group 8c + g, byte 4r + t.
constexpr size_t interleaved_byte(size_t r, size_t i) {
  const size_t c = i / 32, g = (i % 32) / 4, t = i % 4;
  return 32 * (8 * c + g) + 4 * r + t;
}

}  // namespace

void interleave_q4k_x8(const BlockQ4K* const rows[8], BlockQ4Kx8* out, size_t n) {
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    BlockQ4Kx8& block = out[b];
    uint8_t scales[64], minimums[64];
    for (size_t r = 0; r < 8; ++r) {
      const BlockQ4K& row = rows[r][b];
      block.d[r] = row.d;
      block.dmin[r] = row.dmin;
      for (size_t j = 0; j < 8; ++j)
        q4k_scale_min(row.scales, j, &scales[8 * j + r], &minimums[q4k_x8_minimum_index(j, r)]);
      for (size_t i = 0; i < 128; ++i) block.qs[interleaved_byte(r, i)] = row.qs[i];
    }
    for (size_t i = 0; i < 32; ++i) {
      block.scales_low[i] = static_cast<uint8_t>((scales[i] & 15) | (scales[i + 32] & 15) << 4);
      block.minimums_low[i] = static_cast<uint8_t>((minimums[i] & 15) | (minimums[i + 32] & 15) << 4);
      block.high_bits[i] = static_cast<uint8_t>(scales[i] >> 4 | (scales[i + 32] >> 4) << 2 | (minimums[i] >> 4) << 4 |
                                                (minimums[i + 32] >> 4) << 6);
    }
  }
}

void q4k_x8_unpack_scales(const BlockQ4Kx8& block, uint8_t scales[64], uint8_t minimums[64]) {
  for (size_t i = 0; i < 32; ++i) {
    const uint8_t high = block.high_bits[i];
    scales[i] = static_cast<uint8_t>((block.scales_low[i] & 15) | (high & 3) << 4);
    scales[i + 32] = static_cast<uint8_t>((block.scales_low[i] >> 4) | ((high >> 2) & 3) << 4);
    minimums[i] = static_cast<uint8_t>((block.minimums_low[i] & 15) | ((high >> 4) & 3) << 4);
    minimums[i + 32] = static_cast<uint8_t>((block.minimums_low[i] >> 4) | (high >> 6) << 4);
  }
}

namespace {

// Row r of one interleaved block as a q4k block, given the block's unpacked scales: the 6-bit
// pairs packed as block_q4k.h lays them out (all twelve bytes written at once).
void deinterleave_block_row(const BlockQ4Kx8& block, const uint8_t* scales, const uint8_t* minimums, size_t r,
                            BlockQ4K& out) {
  out.d = block.d[r];
  out.dmin = block.dmin[r];
  for (size_t j = 0; j < 4; ++j) {
    const uint8_t scale = scales[8 * j + r], high_scale = scales[8 * (j + 4) + r];
    const uint8_t minimum = minimums[q4k_x8_minimum_index(j, r)];
    const uint8_t high_minimum = minimums[q4k_x8_minimum_index(j + 4, r)];
    out.scales[j] = static_cast<uint8_t>(scale | (high_scale >> 4) << 6);
    out.scales[j + 4] = static_cast<uint8_t>(minimum | (high_minimum >> 4) << 6);
    out.scales[j + 8] = static_cast<uint8_t>((high_scale & 15) | (high_minimum & 15) << 4);
  }
  for (size_t g = 0; g < 32; ++g) std::memcpy(out.qs + 4 * g, block.qs + 32 * g + 4 * r, 4);
}

}  // namespace

void deinterleave_q4k_x8_rows(const BlockQ4Kx8* blocks, BlockQ4K* const rows[8], size_t n) {
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    uint8_t scales[64], minimums[64];
    q4k_x8_unpack_scales(blocks[b], scales, minimums);
    for (size_t r = 0; r < 8; ++r) deinterleave_block_row(blocks[b], scales, minimums, r, rows[r][b]);
  }
}

void dot_q4k_x8_q8k_ref(const BlockQ4Kx8* w, const BlockQ8K* a, size_t n, float* out) {
  for (size_t r = 0; r < 8; ++r) out[r] = 0.0f;
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    uint8_t scales[64], minimums[64];
    q4k_x8_unpack_scales(w[b], scales, minimums);
    for (size_t r = 0; r < 8; ++r) {
      int32_t scaled_dot = 0, scaled_minimum = 0;
      for (size_t j = 0; j < 8; ++j) {
        const size_t chunk = j / 2, shift = 4 * (j % 2);
        int32_t dot = 0;
        for (size_t l = 0; l < 32; ++l) {
          const uint8_t byte = w[b].qs[interleaved_byte(r, 32 * chunk + l)];
          dot += int32_t((byte >> shift) & 15) * a[b].qs[j * 32 + l];
        }
        scaled_dot += int32_t(scales[8 * j + r]) * dot;
        scaled_minimum += int32_t(minimums[q4k_x8_minimum_index(j, r)]) * a[b].sums[j];
      }
      out[r] += a[b].d * (f16_to_f32(w[b].d[r]) * float(scaled_dot) - f16_to_f32(w[b].dmin[r]) * float(scaled_minimum));
    }
  }
}

}  // namespace smoe::quant
