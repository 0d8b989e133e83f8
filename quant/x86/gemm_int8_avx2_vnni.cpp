// The AVX-VNNI kernel of the int8 prompt products, for CPUs with AVX2 and AVX-VNNI but no
// AVX-512 (Intel's client cores since Alder Lake; compiled with -mavx2 -mavxvnni -mfma -mf16c,
// chosen only on CPUs that have them). gemm_int8.h has the layout and gemm_int8.cpp the scalar
// reference it matches; the quantizers and the packer are the plain AVX2 table's
// (gemm_int8_avx2.cpp), kept out of this file so that nothing the compiler may write with
// VNNI instructions runs on CPUs without them. vpdpbusd does 32 multiply-adds per ymm
// instruction where the plain AVX2 kernel needs four (sign, vpmaddubsw, vpmaddwd, add).
//
// With 16 ymm registers a 12-row tile is multiplied in two halves of 6 rows x 16 tokens (one
// token group): 12 accumulators of 8 int32 (one per token), and per step of 4 columns two
// activation loads and 6 broadcasts of 4 weight bytes feeding 12 vpdpbusd. Once per block the
// int32 sums are scaled into f32 sums kept in L1.
#include <immintrin.h>

#include <algorithm>

#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/x86/gemm_int8.h"  // kTileStepBytes, load_u32

namespace smoe::quant {
namespace {

constexpr size_t kHalfRows = kInt8TileRows / 2;

// sum += u8 x s8 in place, VEX-encoded (an EVEX vpdpbusd would fault on these CPUs); inline asm
// for the reason gemm_int8_avx512.cpp gives.
inline void dpbusd(__m256i& sum, __m256i u8, __m256i s8) {
  __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(sum) : "x"(u8), "x"(s8));
}

#define SMOE_INT8_ROW(r)                                              \
  {                                                                   \
    const __m256i weights = _mm256_set1_epi32(load_u32(w + 4 * (r))); \
    dpbusd(sum##r##a, weights, values0);                              \
    dpbusd(sum##r##b, weights, values1);                              \
  }
#define SMOE_INT8_SCALE(r)                                                                                       \
  {                                                                                                              \
    const __m256 row_scale = _mm256_set1_ps(block_scales[r]);                                                    \
    float* total = totals[r];                                                                                    \
    _mm256_store_ps(total, _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum##r##a), _mm256_mul_ps(row_scale, scales0),     \
                                           _mm256_load_ps(total)));                                              \
    _mm256_store_ps(total + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum##r##b), _mm256_mul_ps(row_scale, scales1), \
                                               _mm256_load_ps(total + 8)));                                      \
  }
#define SMOE_INT8_ROWS(M) M(0) M(1) M(2) M(3) M(4) M(5)

// Rows `half` x 6 .. + 5 of one tile x token group `group` -> totals[row][token].
void half_tile_product(const uint8_t* tile, const float* tile_scales, size_t half, const Int8Activations& a,
                       size_t group, float (*totals)[kInt8TokenGroup]) {
  const size_t blocks = a.blocks, padded = a.padded_tokens, steps = a.block_columns / 4;
  const size_t group_block_bytes = a.block_columns * kInt8TokenGroup;  // one block of one token group
  const int8_t* activations = a.values.data() + group * blocks * group_block_bytes;
  for (size_t b = 0; b < blocks; ++b) {
    const int32_t* offsets = a.offsets.data() + b * padded + group * kInt8TokenGroup;
    const __m256i offsets0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets));
    const __m256i offsets1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets + 8));
    __m256i sum0a = offsets0, sum1a = offsets0, sum2a = offsets0, sum3a = offsets0, sum4a = offsets0, sum5a = offsets0;
    __m256i sum0b = offsets1, sum1b = offsets1, sum2b = offsets1, sum3b = offsets1, sum4b = offsets1, sum5b = offsets1;
    const uint8_t* w = tile + b * steps * kTileStepBytes + 4 * kHalfRows * half;
    const int8_t* x = activations + b * group_block_bytes;
    for (size_t step = 0; step < steps; ++step, w += kTileStepBytes, x += 64) {
      const __m256i values0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));       // tokens 0..7
      const __m256i values1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));  // tokens 8..15
      SMOE_INT8_ROWS(SMOE_INT8_ROW)
    }
    const float* scales = a.scales.data() + b * padded + group * kInt8TokenGroup;
    const __m256 scales0 = _mm256_loadu_ps(scales), scales1 = _mm256_loadu_ps(scales + 8);
    const float* block_scales = tile_scales + b * kInt8TileRows + kHalfRows * half;
    SMOE_INT8_ROWS(SMOE_INT8_SCALE)
  }
}

#undef SMOE_INT8_ROWS
#undef SMOE_INT8_SCALE
#undef SMOE_INT8_ROW

void gemm_int8_tiles(const uint8_t* tiles, const float* tile_scales, size_t rows, const Int8Activations& a, float* y,
                     size_t y_stride) {
  for_each_tile_group(rows, a, y, y_stride,
                      [&](size_t tile, size_t count, size_t group, float(*totals)[kInt8TokenGroup]) {
                        const uint8_t* values = tiles + tile * int8_tile_bytes(a.blocks, a.block_columns);
                        const float* scales = tile_scales + tile * int8_tile_scales(a.blocks);
                        for (size_t half = 0; half * kHalfRows < count; ++half) {
                          half_tile_product(values, scales, half, a, group, totals + kHalfRows * half);
                        }
                      });
}

bool runs_here() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx2 && cpu.fma && cpu.f16c && cpu.avx_vnni;
}

}  // namespace

const Int8PromptKernels* avx2_vnni_int8_kernels() {
  const Int8PromptKernels* avx2 = avx2_int8_kernels();
  if (avx2 == nullptr || !runs_here()) return nullptr;
  static const Int8PromptKernels kernels{
      .isa = Isa::avx2_vnni,
      .tiles = gemm_int8_tiles,
      .quantize_weight_row = avx2->quantize_weight_row,
      .pack_tile = avx2->pack_tile,
      .quantize_activation = avx2->quantize_activation,
      .types = int8_type_rows(avx2_row_as_int8(), vnni_min_tokens()),
  };
  return &kernels;
}

}  // namespace smoe::quant
