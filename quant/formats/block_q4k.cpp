// Scalar reference for q4k: per-sub-block (scale, minimum) search, then 6-bit quantization of
// those against two f16 super-scales, then the 4-bit values against the final grid.
#include "quant/formats/block_q4k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/formats/block_q4.h"
#include "quant/formats/half.h"
#include "quant/formats/round_to_even.h"

namespace smoe::quant {
namespace {

constexpr size_t kSub = 32;  // weights per sub-block

void set_scale_min(uint8_t* scales, size_t j, uint8_t scale, uint8_t min) {
  if (j < 4) {
    scales[j] = static_cast<uint8_t>((scales[j] & 0xc0) | scale);
    scales[j + 4] = static_cast<uint8_t>((scales[j + 4] & 0xc0) | min);
  } else {
    scales[j + 4] = static_cast<uint8_t>((scale & 0x0f) | ((min & 0x0f) << 4));
    scales[j - 4] = static_cast<uint8_t>((scales[j - 4] & 0x3f) | ((scale >> 4) << 6));
    scales[j] = static_cast<uint8_t>((scales[j] & 0x3f) | ((min >> 4) << 6));
  }
}

// Index of weight i (0..255) of a block in qs and the nibble it occupies.
inline void locate(size_t i, size_t* byte, int* shift) {
  const size_t chunk = i / 64, within = i % 64;
  *byte = chunk * 32 + within % 32;
  *shift = within < 32 ? 0 : 4;
}

}  // namespace

void q4k_scale_min(const uint8_t* scales, size_t j, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

float q4k_error_bound(float lo, float hi, float d, float dmin) {
  const float low = std::min(lo, 0.0f);
  const float magnitude = std::max(std::fabs(low), std::fabs(hi));
  return q4_error_bound(low, hi) + 0.5f * dmin + 7.5f * d + magnitude * 0x1p-9f;
}

void quantize_row_q4k_searched(const float* src, BlockQ4K* dst, size_t n, const float* importance,
                               Q4GridSearch search) {
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    const float* x = src + b * BlockQ4K::kElements;
    BlockQ4K& block = dst[b];
    std::memset(&block, 0, sizeof(block));
    // With an importance matrix, weigh each error by imatrix[i] * sqrt(sigma^2 + w^2) (as
    // llama.cpp's Q4_K does). Without one, all weights count equally: llama.cpp's sigma + |w|
    // heuristic was measured on mixtral-small and mixtral-tiny and raised mean KLD by 3%.
    float importance_of_block[BlockQ4K::kElements];
    if (importance) {
      double sum_squares = 0;
      for (size_t i = 0; i < BlockQ4K::kElements; ++i) sum_squares += double(x[i]) * x[i];
      const auto sigma = static_cast<float>(std::sqrt(sum_squares / BlockQ4K::kElements));
      for (size_t i = 0; i < BlockQ4K::kElements; ++i) {
        importance_of_block[i] = importance[b * BlockQ4K::kElements + i] * std::sqrt(sigma * sigma + x[i] * x[i]);
      }
    }
    // 1. Each sub-block's best (scale, minimum) from the q4 search; the format stores the
    //    minimum as -dmin * m with m >= 0, so a sub-block's grid must start at or below 0.
    float sub_scale[BlockQ4K::kSubBlocks], sub_negmin[BlockQ4K::kSubBlocks];
    for (size_t j = 0; j < BlockQ4K::kSubBlocks; ++j) {
      const float* sub = x + j * kSub;
      uint16_t fitted_d = 0, fitted_m = 0;
      fit_q4_block(sub, importance ? importance_of_block + j * kSub : nullptr, search, &fitted_d, &fitted_m);
      float d = f16_to_f32(fitted_d), m = f16_to_f32(fitted_m);
      if (m > 0.0f) {  // all weights positive: a grid from 0 up to the largest
        m = 0.0f;
        d = *std::max_element(sub, sub + kSub) / 15.0f;
      }
      sub_scale[j] = d;
      sub_negmin[j] = -m;
    }
    // 2. Quantize the scales and minimums to 6 bits against f16 super-scales.
    const float max_scale = *std::max_element(sub_scale, sub_scale + BlockQ4K::kSubBlocks);
    const float max_negmin = *std::max_element(sub_negmin, sub_negmin + BlockQ4K::kSubBlocks);
    block.d = f32_to_f16(max_scale / 63.0f);
    block.dmin = f32_to_f16(max_negmin / 63.0f);
    const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
    for (size_t j = 0; j < BlockQ4K::kSubBlocks; ++j) {
      const float scale = d > 0 ? std::clamp(std::nearbyint(sub_scale[j] / d), 0.0f, 63.0f) : 0.0f;
      const float min = dmin > 0 ? std::clamp(std::nearbyint(sub_negmin[j] / dmin), 0.0f, 63.0f) : 0.0f;
      set_scale_min(block.scales, j, static_cast<uint8_t>(scale), static_cast<uint8_t>(min));
    }
    // 3. The 4-bit values against the final grid of each sub-block.
    q4k_set_values(x, block);
  }
}

void q4k_rounding_grids(const BlockQ4K& block, RoundingGrid* grids) {
  const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
  for (size_t j = 0; j < BlockQ4K::kSubBlocks; ++j) {
    uint8_t scale = 0, min = 0;
    q4k_scale_min(block.scales, j, &scale, &min);
    const float step = d * scale, offset = dmin * min;
    const RoundingGrid grid{step, step > 0 ? 1.0f / step : 0.0f, offset};
    for (size_t l = 0; l < kSub; ++l) grids[j * kSub + l] = grid;
  }
}

void q4k_set_values(const float* x, BlockQ4K& block) {
  std::memset(block.qs, 0, sizeof(block.qs));
  RoundingGrid grids[BlockQ4K::kElements];
  q4k_rounding_grids(block, grids);
  for (size_t i = 0; i < BlockQ4K::kElements; ++i) {
    // clamp(nearbyint(v), 0, 15) without a library call per weight: v is first clamped to
    // [-1, 16], which changes no result after the final clamp and keeps round_to_even exact.
    const float v = std::clamp((x[i] + grids[i].shift) * grids[i].inverse, -1.0f, 16.0f);
    const float q = std::clamp(round_to_even(v), 0.0f, 15.0f);
    size_t byte = 0;
    int shift = 0;
    locate(i, &byte, &shift);
    block.qs[byte] = static_cast<uint8_t>(block.qs[byte] | (static_cast<uint8_t>(q) << shift));
  }
}

void quantize_row_q4k_ref(const float* src, BlockQ4K* dst, size_t n, const float* importance) {
  quantize_row_q4k_searched(src, dst, n, importance, search_q4_grid_ref);
}

void dequantize_row_q4k_ref(const BlockQ4K* src, float* dst, size_t n) {
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    const BlockQ4K& block = src[b];
    const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
    uint8_t unpacked[16];  // 8 scales, 8 minimums
    q4k_unpack_scales(block.scales, unpacked);
    float* out = dst + b * BlockQ4K::kElements;
    // Chunk c: low nibbles are sub-block 2c, high nibbles sub-block 2c + 1 (straight loops vectorise).
    for (size_t chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* packed = block.qs + 32 * chunk;
      const float low_step = d * unpacked[2 * chunk], low_offset = dmin * unpacked[8 + 2 * chunk];
      const float high_step = d * unpacked[2 * chunk + 1], high_offset = dmin * unpacked[8 + 2 * chunk + 1];
      for (size_t l = 0; l < kSub; ++l) out[64 * chunk + l] = low_step * float(packed[l] & 15) - low_offset;
      for (size_t l = 0; l < kSub; ++l) out[64 * chunk + 32 + l] = high_step * float(packed[l] >> 4) - high_offset;
    }
  }
}

}  // namespace smoe::quant
