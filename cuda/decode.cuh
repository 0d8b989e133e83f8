// Device-side decoding of one weight of a row in the container's block formats (docs/FORMAT.md),
// the same arithmetic as quant/'s scalar references: blocks are read in place, as uploaded.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace smoe::cuda {

enum : uint32_t { kF32 = 0, kF16 = 1, kBF16 = 2, kQ8 = 3, kQ4 = 4, kQ4K = 6 };

__device__ inline float half_at(const uint8_t* p) {
  uint16_t bits = uint16_t(p[0]) | uint16_t(p[1]) << 8;
  return __half2float(__ushort_as_half(bits));
}

// Bytes of one row of `columns` weights; 0 for a type this plugin does not handle.
__host__ __device__ inline uint64_t row_bytes(uint32_t type, uint64_t columns) {
  switch (type) {
    case kF32: return columns * 4;
    case kF16:
    case kBF16: return columns * 2;
    case kQ8: return columns / 32 * 34;
    case kQ4: return columns / 32 * 20;
    case kQ4K: return columns / 256 * 144;
    default: return 0;
  }
}

// Weight i of a row.
__device__ inline float decode(uint32_t type, const uint8_t* row, uint64_t i) {
  switch (type) {
    case kF32: return reinterpret_cast<const float*>(row)[i];
    case kF16: return half_at(row + 2 * i);
    case kBF16: {
      const uint32_t bits = uint32_t(row[2 * i]) << 16 | uint32_t(row[2 * i + 1]) << 24;
      return __uint_as_float(bits);
    }
    case kQ8: {  // u16 d, i8 qs[32]
      const uint8_t* block = row + (i / 32) * 34;
      return half_at(block) * float(int8_t(block[2 + i % 32]));
    }
    case kQ4: {  // u16 d, u16 m, u8 qs[16]: low nibbles weights 0..15, high 16..31
      const uint8_t* block = row + (i / 32) * 20;
      const uint32_t j = i % 32;
      const uint8_t packed = block[4 + j % 16];
      const int q = j < 16 ? (packed & 15) : (packed >> 4);
      return half_at(block) * float(q) + half_at(block + 2);
    }
    case kQ4K: {  // u16 d, u16 dmin, u8 scales[12], u8 qs[128]
      const uint8_t* block = row + (i / 256) * 144;
      const uint32_t p = i % 256, j = p / 32, chunk = p / 64, within = p % 64;
      const uint8_t* scales = block + 4;
      uint32_t scale, minimum;
      if (j < 4) {
        scale = scales[j] & 63;
        minimum = scales[j + 4] & 63;
      } else {
        scale = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
        minimum = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
      }
      const uint8_t packed = block[16 + chunk * 32 + within % 32];
      const int q = within < 32 ? (packed & 15) : (packed >> 4);
      return half_at(block) * float(scale) * float(q) - half_at(block + 2) * float(minimum);
    }
    default: return 0.0f;
  }
}

}  // namespace smoe::cuda
