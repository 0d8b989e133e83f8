// Scalar reference for q3k: a least-squares scale per 16-weight sub-block, those scales
// quantized to 6 signed bits against one f16 super-scale, then the 3-bit values.
#include "quant/formats/block_q3k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/formats/half.h"
#include "quant/formats/scale_search.h"

namespace smoe::quant {
namespace {

constexpr size_t kSub = 16;

void store_scale(uint8_t* packed, size_t s, int stored) {  // stored = scale + 32, 0..63
  if (s < 8) {
    packed[s] |= static_cast<uint8_t>(stored & 15);
  } else {
    packed[s - 8] |= static_cast<uint8_t>((stored & 15) << 4);
  }
  packed[8 + s % 4] |= static_cast<uint8_t>((stored >> 4) << (2 * (s / 4)));
}

void store_value(BlockQ3K& block, size_t p, int value) {
  const size_t c = p / 128, j = (p % 128) / 32, l = p % 32;
  block.qs[32 * c + l] |= static_cast<uint8_t>((value & 3) << (2 * j));
  block.hmask[l] |= static_cast<uint8_t>((value >> 2) << (p / 32));
}

}  // namespace

void q3k_unpack_scales(const uint8_t* packed, int8_t* out) {
  for (size_t s = 0; s < 16; ++s) {
    const int low = s < 8 ? packed[s] & 15 : packed[s - 8] >> 4;
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    out[s] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

void quantize_row_q3k_searched(const float* src, BlockQ3K* dst, size_t n, const float* importance,
                               SymmetricScaleSearch search) {
  for (size_t b = 0; b < n / BlockQ3K::kElements; ++b) {
    const float* x = src + b * BlockQ3K::kElements;
    BlockQ3K& block = dst[b];
    std::memset(&block, 0, sizeof(block));
    float weights[BlockQ3K::kElements];
    super_block_error_weights(x, importance ? importance + b * BlockQ3K::kElements : nullptr, BlockQ3K::kElements,
                              weights);
    float sub_scale[16];
    const float peak = search_sub_block_scales(x, weights, -4, 3, sub_scale, search);  // signed, largest magnitude
    const float inverse = peak != 0.0f ? -32.0f / peak : 0.0f;  // largest scale -> -32
    block.d = f32_to_f16(peak != 0.0f ? 1.0f / inverse : 0.0f);
    for (size_t j = 0; j < 16; ++j) {
      const int scale = static_cast<int>(std::clamp(std::nearbyint(sub_scale[j] * inverse), -32.0f, 31.0f));
      store_scale(block.scales, j, scale + 32);
    }
    q3k_set_values(x, block);
  }
}

void q3k_rounding_grids(const BlockQ3K& block, RoundingGrid* grids) {
  const float d = f16_to_f32(block.d);
  int8_t scales[16];
  q3k_unpack_scales(block.scales, scales);
  for (size_t j = 0; j < 16; ++j) {
    const float step = d * float(scales[j]);
    const RoundingGrid grid{step, step != 0.0f ? 1.0f / step : 0.0f, 0.0f};
    for (size_t l = 0; l < kSub; ++l) grids[j * kSub + l] = grid;
  }
}

void q3k_set_values(const float* x, BlockQ3K& block) {
  std::memset(block.hmask, 0, sizeof(block.hmask));
  std::memset(block.qs, 0, sizeof(block.qs));
  RoundingGrid grids[BlockQ3K::kElements];
  q3k_rounding_grids(block, grids);
  for (size_t p = 0; p < BlockQ3K::kElements; ++p) {
    const float level = std::clamp(std::nearbyint(x[p] * grids[p].inverse), -4.0f, 3.0f);
    store_value(block, p, static_cast<int>(level) + 4);
  }
}

void quantize_row_q3k_ref(const float* src, BlockQ3K* dst, size_t n, const float* importance) {
  quantize_row_q3k_searched(src, dst, n, importance, search_symmetric_scale);
}

void dequantize_row_q3k_ref(const BlockQ3K* src, float* dst, size_t n) {
  for (size_t b = 0; b < n / BlockQ3K::kElements; ++b) {
    const BlockQ3K& block = src[b];
    const float d = f16_to_f32(block.d);
    int8_t scales[16];
    q3k_unpack_scales(block.scales, scales);
    for (size_t p = 0; p < BlockQ3K::kElements; ++p) {
      dst[b * BlockQ3K::kElements + p] = d * float(scales[p / kSub]) * float(q3k_value(block, p) - 4);
    }
  }
}

}  // namespace smoe::quant
