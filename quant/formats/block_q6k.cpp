// Scalar reference for q6k: a least-squares scale per 16-weight sub-block, those scales
// quantized to int8 against one f16 super-scale, then the 6-bit values on the final grid.
#include "quant/formats/block_q6k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/formats/half.h"
#include "quant/formats/scale_search.h"

namespace smoe::quant {
namespace {

constexpr size_t kSub = 16;

void store_value(BlockQ6K& block, size_t p, int value) {
  const size_t c = p / 128, k = (p % 128) / 32, l = p % 32;
  block.ql[64 * c + 32 * (k & 1) + l] |= static_cast<uint8_t>((value & 15) << (4 * (k >> 1)));
  block.qh[32 * c + l] |= static_cast<uint8_t>((value >> 4) << (2 * k));
}

}  // namespace

void quantize_row_q6k_searched(const float* src, BlockQ6K* dst, size_t n, const float* importance,
                               SymmetricScaleSearch search) {
  for (size_t b = 0; b < n / BlockQ6K::kElements; ++b) {
    const float* x = src + b * BlockQ6K::kElements;
    BlockQ6K& block = dst[b];
    std::memset(&block, 0, sizeof(block));
    float weights[BlockQ6K::kElements];
    super_block_error_weights(x, importance ? importance + b * BlockQ6K::kElements : nullptr, BlockQ6K::kElements,
                              weights);
    float sub_scale[16];
    const float peak = search_sub_block_scales(x, weights, -32, 31, sub_scale, search);  // signed, largest magnitude
    // The largest scale maps to -128 (int8's extra level), as in llama.cpp.
    const float inverse = peak != 0.0f ? -128.0f / peak : 0.0f;
    block.d = f32_to_f16(peak != 0.0f ? 1.0f / inverse : 0.0f);
    for (size_t j = 0; j < 16; ++j) {
      block.scales[j] = static_cast<int8_t>(std::clamp(std::nearbyint(sub_scale[j] * inverse), -128.0f, 127.0f));
    }
    q6k_set_values(x, block);
  }
}

void q6k_rounding_grids(const BlockQ6K& block, RoundingGrid* grids) {
  const float d = f16_to_f32(block.d);
  for (size_t j = 0; j < 16; ++j) {
    const float step = d * block.scales[j];
    const RoundingGrid grid{step, step != 0.0f ? 1.0f / step : 0.0f, 0.0f};
    for (size_t l = 0; l < kSub; ++l) grids[j * kSub + l] = grid;
  }
}

void q6k_set_values(const float* x, BlockQ6K& block) {
  std::memset(block.ql, 0, sizeof(block.ql));
  std::memset(block.qh, 0, sizeof(block.qh));
  RoundingGrid grids[BlockQ6K::kElements];
  q6k_rounding_grids(block, grids);
  for (size_t p = 0; p < BlockQ6K::kElements; ++p) {
    const float level = std::clamp(std::nearbyint(x[p] * grids[p].inverse), -32.0f, 31.0f);
    store_value(block, p, static_cast<int>(level) + 32);
  }
}

void quantize_row_q6k_ref(const float* src, BlockQ6K* dst, size_t n, const float* importance) {
  quantize_row_q6k_searched(src, dst, n, importance, search_symmetric_scale);
}

void dequantize_row_q6k_ref(const BlockQ6K* src, float* dst, size_t n) {
  for (size_t b = 0; b < n / BlockQ6K::kElements; ++b) {
    const BlockQ6K& block = src[b];
    const float d = f16_to_f32(block.d);
    for (size_t p = 0; p < BlockQ6K::kElements; ++p) {
      dst[b * BlockQ6K::kElements + p] = d * float(block.scales[p / kSub]) * float(q6k_value(block, p) - 32);
    }
  }
}

}  // namespace smoe::quant
