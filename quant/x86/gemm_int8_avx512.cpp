// AVX512-VNNI kernels of the int8 prompt products (compiled with -mavx512f -mavx512bw
// -mavx512vl -mavx512vnni; chosen only on CPUs that have them). gemm_int8.h has the layout
// and gemm_int8.cpp the scalar references these match.
//
// One tile is 12 weight rows x 32 tokens: 24 zmm accumulators of 16 int32 (one per token), and
// per step of 4 columns two activation loads and 12 broadcasts of 4 weight bytes feeding 24
// vpdpbusd. Once per block the int32 sums are scaled into f32 sums kept in L1.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/x86/gemm_int8.h"

namespace smoe::quant {
namespace {

// sum += u8 x s8 in place. Through the intrinsic, GCC 12 copied each accumulator to another
// register and to the stack after every vpdpbusd, with the accumulators in an array or in
// named variables alike; the kernel ran at 60 GMAC/s against 110 with this.
inline void dpbusd(__m512i& sum, __m512i u8, __m512i s8) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(sum) : "v"(u8), "v"(s8));
}

// One tile of 12 rows x 16 tokens (one group), or x 32 (two groups: kTwo), its 24 accumulators
// named variables so that each stays in one register.
#define SMOE_INT8_ROW(r)                                              \
  {                                                                   \
    const __m512i weights = _mm512_set1_epi32(load_u32(w + 4 * (r))); \
    dpbusd(sum##r##a, weights, values0);                              \
    if constexpr (kTwo) dpbusd(sum##r##b, weights, values1);          \
  }
#define SMOE_INT8_SCALE(r)                                                                                      \
  {                                                                                                             \
    const __m512 row_scale = _mm512_set1_ps(block_scales[r]);                                                   \
    float* total = totals[r][0];                                                                                \
    _mm512_store_ps(total, _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum##r##a), _mm512_mul_ps(row_scale, scales0),    \
                                           _mm512_load_ps(total)));                                             \
    if constexpr (kTwo) {                                                                                       \
      float* total1 = totals[r][1];                                                                             \
      _mm512_store_ps(total1, _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum##r##b), _mm512_mul_ps(row_scale, scales1), \
                                              _mm512_load_ps(total1)));                                         \
    }                                                                                                           \
  }
#define SMOE_INT8_ROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

template <bool kTwo>
void tile_product(const uint8_t* tile, const float* tile_scales, size_t rows, const Int8Activations& a, size_t group,
                  float* y, size_t y_stride) {
  const size_t blocks = a.blocks, padded = a.padded_tokens, steps = a.block_columns / 4;
  const size_t group_block_bytes = a.block_columns * kInt8TokenGroup;  // one block of one token group
  alignas(64) float totals[kInt8TileRows][2][kInt8TokenGroup] = {};
  const int8_t* activations0 = a.values.data() + group * blocks * group_block_bytes;
  const int8_t* activations1 = activations0 + (kTwo ? blocks * group_block_bytes : 0);
  for (size_t b = 0; b < blocks; ++b) {
    const int32_t* offsets = a.offsets.data() + b * padded + group * kInt8TokenGroup;
    const __m512i offsets0 = _mm512_loadu_si512(offsets);
    const __m512i offsets1 = kTwo ? _mm512_loadu_si512(offsets + kInt8TokenGroup) : offsets0;
    __m512i sum0a = offsets0, sum1a = offsets0, sum2a = offsets0, sum3a = offsets0, sum4a = offsets0, sum5a = offsets0,
            sum6a = offsets0, sum7a = offsets0, sum8a = offsets0, sum9a = offsets0, sum10a = offsets0,
            sum11a = offsets0;
    __m512i sum0b = offsets1, sum1b = offsets1, sum2b = offsets1, sum3b = offsets1, sum4b = offsets1, sum5b = offsets1,
            sum6b = offsets1, sum7b = offsets1, sum8b = offsets1, sum9b = offsets1, sum10b = offsets1,
            sum11b = offsets1;
    const uint8_t* w = tile + b * steps * kTileStepBytes;
    const int8_t* x0 = activations0 + b * group_block_bytes;
    const int8_t* x1 = activations1 + b * group_block_bytes;
    for (size_t step = 0; step < steps; ++step, w += kTileStepBytes, x0 += 64, x1 += 64) {
      const __m512i values0 = _mm512_loadu_si512(x0);
      const __m512i values1 = kTwo ? _mm512_loadu_si512(x1) : values0;
      SMOE_INT8_ROWS(SMOE_INT8_ROW)
    }
    const float* scales = a.scales.data() + b * padded + group * kInt8TokenGroup;
    const __m512 scales0 = _mm512_loadu_ps(scales);
    const __m512 scales1 = kTwo ? _mm512_loadu_ps(scales + kInt8TokenGroup) : scales0;
    const float* block_scales = tile_scales + b * kInt8TileRows;
    SMOE_INT8_ROWS(SMOE_INT8_SCALE)
  }
  for (size_t v = 0; v < (kTwo ? 2u : 1u); ++v) {
    const size_t first_token = (group + v) * kInt8TokenGroup;
    if (first_token >= a.tokens) break;
    const size_t count = std::min(kInt8TokenGroup, a.tokens - first_token);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t t = 0; t < count; ++t) y[(first_token + t) * y_stride + r] = totals[r][v][t];
    }
  }
}

#undef SMOE_INT8_ROWS
#undef SMOE_INT8_SCALE
#undef SMOE_INT8_ROW

void gemm_int8_tiles(const uint8_t* tiles, const float* tile_scales, size_t rows, const Int8Activations& a, float* y,
                     size_t y_stride) {
  const size_t groups = a.padded_tokens / kInt8TokenGroup;
  for (size_t r = 0; r < rows; r += kInt8TileRows) {
    const size_t count = std::min(kInt8TileRows, rows - r);
    const uint8_t* tile = tiles + (r / kInt8TileRows) * int8_tile_bytes(a.blocks, a.block_columns);
    const float* scales = tile_scales + (r / kInt8TileRows) * int8_tile_scales(a.blocks);
    size_t g = 0;
    for (; g + 2 <= groups; g += 2) tile_product<true>(tile, scales, count, a, g, y + r, y_stride);
    if (g < groups) tile_product<false>(tile, scales, count, a, g, y + r, y_stride);
  }
}

// 16 floats -> 16 bytes of rint(x * multiplier) + 128.
inline __m128i quantize16(__m512 x, __m512 multiplier) {
  const __m512i values = _mm512_cvtps_epi32(_mm512_mul_ps(x, multiplier));  // MXCSR: nearest even
  return _mm_xor_si128(_mm512_cvtsepi32_epi8(values), _mm_set1_epi8(static_cast<char>(0x80)));
}

// 64 floats (four registers) -> 64 bytes of rint(x * multiplier) + 128, by two packs and a
// dword permute instead of four vpmovsdb (two uops each on Zen 4 and Intel).
inline __m512i quantize64(const __m512* x, __m512 multiplier) {
  __m512i values[4];
  for (int i = 0; i < 4; ++i) values[i] = _mm512_cvtps_epi32(_mm512_mul_ps(x[i], multiplier));
  // Per 128-bit lane k, dword j of the packed bytes holds values[j][4k .. 4k + 3]: move it to 4j + k.
  const __m512i packed =
      _mm512_packs_epi16(_mm512_packs_epi32(values[0], values[1]), _mm512_packs_epi32(values[2], values[3]));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_xor_si512(_mm512_permutexvar_epi32(order, packed), _mm512_set1_epi8(static_cast<char>(0x80)));
}

// The block's floats (zeros past `count`) and its scale (int8_block_scale); a block whose
// multiplier is 0 is made zeros, so that NaNs and infinities quantize to 0 as in the reference.
template <size_t kVectors>
inline Int8BlockScale load_block(const float* x, size_t count, __m512* out) {
  __m512 max_abs = _mm512_setzero_ps();
  __mmask16 nonfinite = 0;
  for (size_t i = 0; i < kVectors; ++i) {
    const size_t at = 16 * i;
    const __mmask16 valid = at >= count        ? 0
                            : count - at >= 16 ? 0xffff
                                               : static_cast<__mmask16>((1u << (count - at)) - 1);
    out[i] = _mm512_maskz_loadu_ps(valid, x + at);
    const __m512 magnitude = _mm512_abs_ps(out[i]);
    nonfinite |= _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(std::numeric_limits<float>::infinity()), _CMP_NLT_UQ);
    max_abs = _mm512_max_ps(max_abs, magnitude);
  }
  const Int8BlockScale s = int8_block_scale(_mm512_reduce_max_ps(max_abs), nonfinite == 0);
  if (s.multiplier == 0.0f) {
    for (size_t i = 0; i < kVectors; ++i) out[i] = _mm512_setzero_ps();
  }
  return s;
}

// Blocks of 32 or 256 columns: 2 or 16 registers of 16 floats.
template <size_t kBlock>
void quantize_weight_row_blocks(const float* row, size_t columns, uint8_t* q, float* scales) {
  constexpr size_t kVectors = kBlock / 16;
  for (size_t b = 0; b < int8_blocks(columns, kBlock); ++b) {
    const size_t first = b * kBlock;
    __m512 x[kVectors];
    const Int8BlockScale s = load_block<kVectors>(row + first, std::min(kBlock, columns - first), x);
    scales[b] = s.scale;
    const __m512 multiplier = _mm512_set1_ps(s.multiplier);
    if constexpr (kVectors % 4 == 0) {
      for (size_t i = 0; i < kVectors; i += 4) _mm512_storeu_si512(q + first + 16 * i, quantize64(&x[i], multiplier));
    } else {
      for (size_t i = 0; i < kVectors; ++i) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + first + 16 * i), quantize16(x[i], multiplier));
      }
    }
  }
}

// One token's row into its lane of the activations (quantize_activation_int8's bits).
template <size_t kBlock>
void quantize_activation_blocks(const float* row, size_t token, Int8Activations& out) {
  constexpr size_t kVectors = kBlock / 16;
  const size_t padded = out.padded_tokens, lane = token % kInt8TokenGroup;
  int8_t* group = out.values.data() + (token / kInt8TokenGroup) * out.blocks * kBlock * kInt8TokenGroup;
  for (size_t b = 0; b < out.blocks; ++b) {
    const size_t first = b * kBlock;
    __m512 x[kVectors];
    const Int8BlockScale s = load_block<kVectors>(row + first, std::min(kBlock, out.columns - first), x);
    const __m512 multiplier = _mm512_set1_ps(s.multiplier);
    __m512i sum = _mm512_setzero_si512();
    int8_t* block = group + b * kBlock * kInt8TokenGroup;
    for (size_t i = 0; i < kVectors; ++i) {
      const __m512i values = _mm512_cvtps_epi32(_mm512_mul_ps(x[i], multiplier));
      sum = _mm512_add_epi32(sum, values);
      // 16 bytes: steps 4i .. 4i + 3 of this token, each 4 bytes at its lane.
      const __m128i bytes = _mm512_cvtsepi32_epi8(values);
      int8_t* step = block + (4 * i * kInt8TokenGroup + lane) * 4;
      _mm_storeu_si32(step, bytes);
      _mm_storeu_si32(step + 4 * kInt8TokenGroup, _mm_srli_si128(bytes, 4));
      _mm_storeu_si32(step + 8 * kInt8TokenGroup, _mm_srli_si128(bytes, 8));
      _mm_storeu_si32(step + 12 * kInt8TokenGroup, _mm_srli_si128(bytes, 12));
    }
    out.scales[b * padded + token] = s.scale;
    out.offsets[b * padded + token] = -128 * _mm512_reduce_add_epi32(sum);
  }
}

// The kernels only for CPUs that run them (a caller testing for nullptr must not get them on
// an AVX2-only CPU).
bool runs_here() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512_vnni;
}

}  // namespace

const Int8PromptKernels* avx512_vnni_int8_kernels() {
  static const Int8PromptKernels kernels{
      .isa = Isa::avx512_vnni,
      .tiles = gemm_int8_tiles,
      .quantize_weight_row = quantize_weight_row,
      .pack_tile = pack_tile,
      .quantize_activation = quantize_activation,
      .types = int8_type_rows(avx512_row_as_int8(), vnni_min_tokens()),
  };
  return runs_here() ? &kernels : nullptr;
}

}  // namespace smoe::quant
