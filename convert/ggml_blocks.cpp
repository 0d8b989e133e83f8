// Decoders for ggml block types smoe has no format of its own for, after llama.cpp's
// dequantize_row_* (ggml-quants.c); the others reuse smoe's scalar references.
#include "convert/ggml_blocks.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/convert_row.h"
#include "quant/formats/half.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace {

using quant::f16_to_f32;

struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ2_K { uint8_t scales[16]; uint8_t qs[64]; uint16_t d; uint16_t dmin; };
struct BlockQ5_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ5_K) == 176);

template <class Block>
Block load(const std::byte* data, size_t index) {  // GGUF offsets need not align blocks
  Block block;
  std::memcpy(&block, data + index * sizeof(Block), sizeof(Block));
  return block;
}

void dequantize_q4_0(const std::byte* row, float* out, size_t n) {
  for (size_t b = 0; b < n / 32; ++b) {
    const auto block = load<BlockQ4_0>(row, b);
    const float d = f16_to_f32(block.d);
    for (size_t j = 0; j < 16; ++j) {
      out[32 * b + j] = d * float((block.qs[j] & 15) - 8);
      out[32 * b + j + 16] = d * float((block.qs[j] >> 4) - 8);
    }
  }
}

template <class Block, bool kHasMinimum>
void dequantize_q5(const std::byte* row, float* out, size_t n) {
  for (size_t b = 0; b < n / 32; ++b) {
    const auto block = load<Block>(row, b);
    uint32_t high;
    std::memcpy(&high, block.qh, 4);
    const float d = f16_to_f32(block.d);
    float m = -16.0f * d;
    if constexpr (kHasMinimum) m = f16_to_f32(block.m);
    for (size_t j = 0; j < 16; ++j) {
      const int low_high = int(((high >> j) << 4) & 0x10), high_high = int((high >> (j + 12)) & 0x10);
      out[32 * b + j] = d * float((block.qs[j] & 15) | low_high) + m;
      out[32 * b + j + 16] = d * float((block.qs[j] >> 4) | high_high) + m;
    }
  }
}

void dequantize_q2_k(const std::byte* row, float* out, size_t n) {
  for (size_t b = 0; b < n / 256; ++b) {
    const auto block = load<BlockQ2_K>(row, b);
    const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
    float* y = out + 256 * b;
    size_t scale = 0;
    for (size_t half = 0; half < 2; ++half) {
      const uint8_t* q = block.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (size_t part = 0; part < 2; ++part) {
          const uint8_t packed = block.scales[scale++];
          const float step = d * float(packed & 15), offset = dmin * float(packed >> 4);
          for (size_t l = 0; l < 16; ++l) *y++ = step * float((q[l + 16 * part] >> shift) & 3) - offset;
        }
      }
    }
  }
}

void dequantize_q5_k(const std::byte* row, float* out, size_t n) {
  for (size_t b = 0; b < n / 256; ++b) {
    const auto block = load<BlockQ5_K>(row, b);
    const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
    float* y = out + 256 * b;
    const uint8_t* low = block.qs;
    uint8_t bit_low = 1, bit_high = 2;
    for (size_t j = 0; j < 8; j += 2) {  // 64 weights: sub-blocks j (low nibbles), j + 1 (high)
      uint8_t scale = 0, min = 0;
      quant::q4k_scale_min(block.scales, j, &scale, &min);
      const float step_low = d * scale, offset_low = dmin * min;
      quant::q4k_scale_min(block.scales, j + 1, &scale, &min);
      const float step_high = d * scale, offset_high = dmin * min;
      for (size_t l = 0; l < 32; ++l) {
        *y++ = step_low * float((low[l] & 15) + ((block.qh[l] & bit_low) ? 16 : 0)) - offset_low;
      }
      for (size_t l = 0; l < 32; ++l) {
        *y++ = step_high * float((low[l] >> 4) + ((block.qh[l] & bit_high) ? 16 : 0)) - offset_high;
      }
      low += 32;
      bit_low = uint8_t(bit_low << 2);
      bit_high = uint8_t(bit_high << 2);
    }
  }
}

}  // namespace

bool ggml_type_decodable(uint32_t type) {
  switch (type) {
    case kGgmlF32: case kGgmlF16: case kGgmlBF16: case kGgmlQ4_0: case kGgmlQ4_1: case kGgmlQ5_0: case kGgmlQ5_1:
    case kGgmlQ8_0: case kGgmlQ2_K: case kGgmlQ3_K: case kGgmlQ4_K: case kGgmlQ5_K: case kGgmlQ6_K:
      return true;
    default:
      return false;
  }
}

std::optional<quant::TensorType> ggml_keep_type(uint32_t type) {
  switch (type) {
    case kGgmlF32: return quant::TensorType::f32;
    case kGgmlF16: return quant::TensorType::f16;
    case kGgmlBF16: return quant::TensorType::bf16;
    case kGgmlQ8_0: return quant::TensorType::q8;
    case kGgmlQ4_0:
    case kGgmlQ4_1: return quant::TensorType::q4;
    case kGgmlQ4_K: return quant::TensorType::q4k;
    case kGgmlQ6_K: return quant::TensorType::q6k;
    case kGgmlQ3_K: return quant::TensorType::q3k;
    default: return std::nullopt;
  }
}

void ggml_dequantize_row(uint32_t type, const std::byte* row, float* out, size_t n) {
  switch (type) {
    case kGgmlQ4_0: return dequantize_q4_0(row, out, n);
    case kGgmlQ5_0: return dequantize_q5<BlockQ5_0, false>(row, out, n);
    case kGgmlQ5_1: return dequantize_q5<BlockQ5_1, true>(row, out, n);
    case kGgmlQ2_K: return dequantize_q2_k(row, out, n);
    case kGgmlQ5_K: return dequantize_q5_k(row, out, n);
    default: break;
  }
  const std::optional<quant::TensorType> same = ggml_keep_type(type);
  if (!same) throw Error("GGUF", "ggml type " + std::to_string(type) + " cannot be decoded");
  // smoe's decoders read their blocks in place; GGUF guarantees only 1-byte alignment of rows
  // for block types, so copy through an aligned buffer first.
  const uint64_t bytes = *quant::row_bytes(*same, n);
  if (reinterpret_cast<uintptr_t>(row) % 4 == 0) {
    quant::dequantize_row(*same, row, out, n);
    return;
  }
  std::vector<uint32_t> aligned((bytes + 3) / 4);
  std::memcpy(aligned.data(), row, bytes);
  quant::dequantize_row(*same, aligned.data(), out, n);
}

bool ggml_keep_row(uint32_t type, const std::byte* row, std::byte* out, size_t n) {
  if (type != kGgmlQ4_0) {
    std::memcpy(out, row, *quant::row_bytes(*ggml_keep_type(type), n));
    return true;
  }
  for (size_t b = 0; b < n / 32; ++b) {
    const auto source = load<BlockQ4_0>(row, b);
    quant::BlockQ4 block;
    block.d = source.d;
    const float minimum = -8.0f * f16_to_f32(source.d);  // exact in f16 unless it overflows
    block.m = quant::f32_to_f16(minimum);
    if (!std::isfinite(f16_to_f32(block.m))) return false;
    std::memcpy(block.qs, source.qs, 16);
    std::memcpy(out + b * sizeof(block), &block, sizeof(block));
  }
  return true;
}

}  // namespace smoe::convert
