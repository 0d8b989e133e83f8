// The plain AVX2 kernels of the int8 prompt products (compiled with -mavx2 -mfma -mf16c): the
// weight requantizer, the activation quantizer and the tile packer, which the AVX-VNNI table
// shares, and a tile product without VNNI, for AVX2 CPUs such as AMD Zen 1-3 and Intel's cores
// from Haswell to Comet Lake. gemm_int8.h has the layout and gemm_int8.cpp the scalar references
// these match. Without it those CPUs multiply prompts in f32 through oneDNN's sgemm, 8
// multiply-adds per ymm FMA.
//
// Without vpdpbusd a step multiplies 32 byte pairs with vpmaddubsw (u8 x s8, adjacent products
// summed into int16 with saturation) and sums those pairs into int32 with vpmaddwd by ones.
// The tile's bytes are u8 = w + 128, which would saturate (255 x 127 x 2 > 32767), so the
// kernel takes w back (xor 0x80) and multiplies |w| by a x sign(w): |w| <= 128 and |a| <= 127
// keep each pair within 2 x 128 x 127 = 32512, exact, w = -128 included (q8 blocks taken as
// stored may hold it; vpabsb gives 128 as an unsigned byte), and the sums need no -128 x sum(a)
// offset. That is four instructions (vpsignb, vpmaddubsw, vpmaddwd, vpaddd) for 32
// multiply-adds, against 8 per FMA: 1.5-2x oneDNN's f32 products (docs/PERFORMANCE.md).
//
// With 16 ymm registers a 12-row tile is multiplied in quarters of 3 rows x 16 tokens: 6
// accumulators of 8 int32, two activation vectors, per row w and |w| broadcast, two constants
// and two temporaries (thirds of 4 rows spilled accumulators to the stack and measured no
// faster). Once per block the int32 sums are scaled into f32 sums kept in L1, as in the
// AVX-VNNI kernel.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "quant/formats/block_q4k.h"
#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/x86/gemm_int8.h"
#include "quant/x86/vector.h"

namespace smoe::quant {
namespace {

constexpr size_t kQuarterRows = kInt8TileRows / 4;

#define SMOE_INT8_ROW(r)                                                                                           \
  {                                                                                                                \
    const __m256i weights = _mm256_xor_si256(_mm256_set1_epi32(load_u32(w + 4 * (r))), bias);                      \
    const __m256i magnitudes = _mm256_abs_epi8(weights);                                                           \
    sum##r##a = _mm256_add_epi32(                                                                                  \
        sum##r##a, _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, _mm256_sign_epi8(values0, weights)), ones)); \
    sum##r##b = _mm256_add_epi32(                                                                                  \
        sum##r##b, _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, _mm256_sign_epi8(values1, weights)), ones)); \
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
#define SMOE_INT8_ROWS(M) M(0) M(1) M(2)

// Rows `quarter` x 3 .. + 2 of one tile x token group `group` -> totals[row][token].
void quarter_tile_product(const uint8_t* tile, const float* tile_scales, size_t quarter, const Int8Activations& a,
                          size_t group, float (*totals)[kInt8TokenGroup]) {
  const size_t blocks = a.blocks, padded = a.padded_tokens, steps = a.block_columns / 4;
  const size_t group_block_bytes = a.block_columns * kInt8TokenGroup;  // one block of one token group
  const int8_t* activations = a.values.data() + group * blocks * group_block_bytes;
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80)), ones = _mm256_set1_epi16(1);
  for (size_t b = 0; b < blocks; ++b) {
    __m256i sum0a = _mm256_setzero_si256(), sum1a = sum0a, sum2a = sum0a;
    __m256i sum0b = sum0a, sum1b = sum0a, sum2b = sum0a;
    const uint8_t* w = tile + b * steps * kTileStepBytes + 4 * kQuarterRows * quarter;
    const int8_t* x = activations + b * group_block_bytes;
    for (size_t step = 0; step < steps; ++step, w += kTileStepBytes, x += 64) {
      const __m256i values0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));       // tokens 0..7
      const __m256i values1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));  // tokens 8..15
      SMOE_INT8_ROWS(SMOE_INT8_ROW)
    }
    const float* scales = a.scales.data() + b * padded + group * kInt8TokenGroup;
    const __m256 scales0 = _mm256_loadu_ps(scales), scales1 = _mm256_loadu_ps(scales + 8);
    const float* block_scales = tile_scales + b * kInt8TileRows + kQuarterRows * quarter;
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
                        for (size_t quarter = 0; quarter * kQuarterRows < count; ++quarter) {
                          quarter_tile_product(values, scales, quarter, a, group, totals + kQuarterRows * quarter);
                        }
                      });
}

// q4k tiles as stored (gemm_int8.h): pairs of rows x 16 tokens. Per sub-block of 32 columns,
// eight steps of vpmaddubsw (nibble x activation pairs) add up in four int16 accumulators, then
// one vpmaddwd by the row's 6-bit scale takes them into four int32 ones; per block the minimum
// terms come from the activations' sub-block sums, two sub-blocks per vpmaddwd.
void q4k_pair_product(const uint8_t* tile, const int16_t* scale_minimums, const float* super_scales, size_t pair,
                      const Int8Activations& a, const int16_t* sub_sums, size_t group,
                      float (*totals)[kInt8TokenGroup]) {
  const size_t blocks = a.blocks, padded = a.padded_tokens;
  constexpr size_t kGroupBlockBytes = 256 * kInt8TokenGroup;
  const int8_t* activations = a.values.data() + group * blocks * kGroupBlockBytes;
  const size_t row0 = 2 * pair, row1 = row0 + 1;
  for (size_t b = 0; b < blocks; ++b) {
    const int16_t* sm0 = scale_minimums + (b * kInt8TileRows + row0) * 16;
    const int16_t* sm1 = sm0 + 16;
    const uint8_t* w = tile + b * 64 * kTileStepBytes + 4 * row0;
    const int8_t* x = activations + b * kGroupBlockBytes;
    __m256i dot0a = _mm256_setzero_si256(), dot0b = dot0a, dot1a = dot0a, dot1b = dot0a;
    for (size_t j = 0; j < 8; ++j) {
      __m256i sum0a = _mm256_setzero_si256(), sum0b = sum0a, sum1a = sum0a, sum1b = sum0a;
      // Unrolled in full, GCC 12 hoists all 32 products ahead of their sums and spills them.
#pragma GCC unroll 2
      for (size_t step = 0; step < 8; ++step, w += kTileStepBytes, x += 64) {
        const __m256i values0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));       // tokens 0..7
        const __m256i values1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));  // tokens 8..15
        const __m256i weights0 = _mm256_set1_epi32(load_u32(w)), weights1 = _mm256_set1_epi32(load_u32(w + 4));
        sum0a = _mm256_add_epi16(sum0a, _mm256_maddubs_epi16(weights0, values0));
        sum0b = _mm256_add_epi16(sum0b, _mm256_maddubs_epi16(weights0, values1));
        sum1a = _mm256_add_epi16(sum1a, _mm256_maddubs_epi16(weights1, values0));
        sum1b = _mm256_add_epi16(sum1b, _mm256_maddubs_epi16(weights1, values1));
      }
      const __m256i scale0 = _mm256_set1_epi16(sm0[j]), scale1 = _mm256_set1_epi16(sm1[j]);
      dot0a = _mm256_add_epi32(dot0a, _mm256_madd_epi16(sum0a, scale0));
      dot0b = _mm256_add_epi32(dot0b, _mm256_madd_epi16(sum0b, scale0));
      dot1a = _mm256_add_epi32(dot1a, _mm256_madd_epi16(sum1a, scale1));
      dot1b = _mm256_add_epi32(dot1b, _mm256_madd_epi16(sum1b, scale1));
    }
    __m256i min0a = _mm256_setzero_si256(), min0b = min0a, min1a = min0a, min1b = min0a;
    for (size_t p = 0; p < 4; ++p) {
      const int16_t* sums = sub_sums + ((b * 4 + p) * padded + group * kInt8TokenGroup) * 2;
      const __m256i sums_a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums));
      const __m256i sums_b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + 16));
      int32_t pair0, pair1;  // (m_2p, m_2p+1) of each row as two int16
      std::memcpy(&pair0, sm0 + 8 + 2 * p, 4);
      std::memcpy(&pair1, sm1 + 8 + 2 * p, 4);
      const __m256i minimums0 = _mm256_set1_epi32(pair0), minimums1 = _mm256_set1_epi32(pair1);
      min0a = _mm256_add_epi32(min0a, _mm256_madd_epi16(sums_a, minimums0));
      min0b = _mm256_add_epi32(min0b, _mm256_madd_epi16(sums_b, minimums0));
      min1a = _mm256_add_epi32(min1a, _mm256_madd_epi16(sums_a, minimums1));
      min1b = _mm256_add_epi32(min1b, _mm256_madd_epi16(sums_b, minimums1));
    }
    const float* scales = a.scales.data() + b * padded + group * kInt8TokenGroup;
    const __m256 scales_a = _mm256_loadu_ps(scales), scales_b = _mm256_loadu_ps(scales + 8);
    const float* supers = super_scales + (b * kInt8TileRows + row0) * 2;
    const auto accumulate = [&](float* total, const float* d_dmin, __m256i dot, __m256i minimum, __m256 scale) {
      const __m256 inner = _mm256_fnmadd_ps(_mm256_set1_ps(d_dmin[1]), _mm256_cvtepi32_ps(minimum),
                                            _mm256_mul_ps(_mm256_set1_ps(d_dmin[0]), _mm256_cvtepi32_ps(dot)));
      _mm256_store_ps(total, _mm256_fmadd_ps(scale, inner, _mm256_load_ps(total)));
    };
    accumulate(totals[row0], supers, dot0a, min0a, scales_a);
    accumulate(totals[row0] + 8, supers, dot0b, min0b, scales_b);
    accumulate(totals[row1], supers + 2, dot1a, min1a, scales_a);
    accumulate(totals[row1] + 8, supers + 2, dot1b, min1b, scales_b);
  }
}

void gemm_q4k_tiles(const uint8_t* tiles, const int16_t* scale_minimums, const float* super_scales, size_t rows,
                    const Int8Activations& a, const int16_t* sub_sums, float* y, size_t y_stride) {
  const size_t blocks = a.blocks;
  for_each_tile_group(
      rows, a, y, y_stride, [&](size_t tile, size_t count, size_t group, float(*totals)[kInt8TokenGroup]) {
        for (size_t pair = 0; 2 * pair < count; ++pair) {
          q4k_pair_product(tiles + tile * int8_tile_bytes(blocks, 256),
                           scale_minimums + tile * q4k_tile_scale_shorts(blocks),
                           super_scales + tile * q4k_tile_super_scales(blocks), pair, a, sub_sums, group, totals);
        }
      });
}

// A q4k row's nibbles, scales and super-scales (q4k_row_nibbles_ref's values).
void q4k_row_nibbles(const void* blocks, size_t n_blocks, uint8_t* q, int16_t* scale_minimums, float* super_scales) {
  const auto* block = static_cast<const BlockQ4K*>(blocks);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  for (size_t b = 0; b < n_blocks; ++b) {
    alignas(16) uint8_t unpacked[16];
    q4k_unpack_scales(block[b].scales, unpacked);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(scale_minimums + 16 * b),
                        _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(unpacked))));
    super_scales[2 * b] = _cvtsh_ss(block[b].d);
    super_scales[2 * b + 1] = _cvtsh_ss(block[b].dmin);
    for (size_t chunk = 0; chunk < 4; ++chunk) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block[b].qs + 32 * chunk));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 256 * b + 64 * chunk), _mm256_and_si256(packed, low_nibbles));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 256 * b + 64 * chunk + 32),
                          _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles));
    }
  }
}

// 32 floats (four registers) -> 32 bytes of rint(x * multiplier) + 128: two packs leave, per
// 128-bit lane k, dword j holding x[j][4k .. 4k + 3]; one dword permute puts it at 2j + k.
inline __m256i quantize32(const __m256* x, __m256 multiplier) {
  __m256i values[4];
  for (int i = 0; i < 4; ++i) values[i] = _mm256_cvtps_epi32(_mm256_mul_ps(x[i], multiplier));  // MXCSR: nearest even
  const __m256i packed =
      _mm256_packs_epi16(_mm256_packs_epi32(values[0], values[1]), _mm256_packs_epi32(values[2], values[3]));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  return _mm256_xor_si256(_mm256_permutevar8x32_epi32(packed, order), _mm256_set1_epi8(static_cast<char>(0x80)));
}

// A whole block's scale (int8_block_scale): max |x| and whether every value is finite.
template <size_t kBlock>
inline Int8BlockScale block_scale(const float* x) {
  const __m256 magnitude_bits = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 infinity = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  __m256 max_abs = _mm256_setzero_ps(), nonfinite = _mm256_setzero_ps();
  for (size_t i = 0; i < kBlock; i += 8) {
    const __m256 magnitude = _mm256_and_ps(_mm256_loadu_ps(x + i), magnitude_bits);
    nonfinite = _mm256_or_ps(nonfinite, _mm256_cmp_ps(magnitude, infinity, _CMP_NLT_UQ));
    max_abs = _mm256_max_ps(max_abs, magnitude);
  }
  return int8_block_scale(Avx2Vector::reduce_max(max_abs), _mm256_movemask_ps(nonfinite) == 0);
}

// Blocks of 32 or 256 columns; a last partial block goes through the reference (its zero
// padding), as do blocks whose multiplier is 0 (NaN, infinity or denormal-sized: zeros).
template <size_t kBlock>
void quantize_weight_row_blocks(const float* row, size_t columns, uint8_t* q, float* scales) {
  for (size_t b = 0; b < int8_blocks(columns, kBlock); ++b) {
    const size_t first = b * kBlock;
    const Int8BlockScale s = columns - first >= kBlock ? block_scale<kBlock>(row + first) : Int8BlockScale{};
    if (s.multiplier == 0.0f) {
      quantize_weight_row_int8_ref(row + first, std::min(kBlock, columns - first), kBlock, q + first, scales + b);
      continue;
    }
    scales[b] = s.scale;
    const __m256 multiplier = _mm256_set1_ps(s.multiplier);
    for (size_t i = 0; i < kBlock; i += 32) {
      const __m256 x[4] = {_mm256_loadu_ps(row + first + i), _mm256_loadu_ps(row + first + i + 8),
                           _mm256_loadu_ps(row + first + i + 16), _mm256_loadu_ps(row + first + i + 24)};
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + first + i), quantize32(x, multiplier));
    }
  }
}

// One token's row into its lane of the activations (quantize_activation_int8_ref's bytes).
// Rows with a partial last block go through the reference.
template <size_t kBlock>
void quantize_activation_blocks(const float* row, size_t token, Int8Activations& out) {
  if (out.columns % kBlock != 0) {
    quantize_activation_int8_ref(row, token, out);
    return;
  }
  const size_t padded = out.padded_tokens, lane = token % kInt8TokenGroup;
  int8_t* group = out.values.data() + (token / kInt8TokenGroup) * out.blocks * kBlock * kInt8TokenGroup;
  for (size_t b = 0; b < out.blocks; ++b) {
    const float* x = row + b * kBlock;
    const Int8BlockScale s = block_scale<kBlock>(x);
    const __m256 multiplier = _mm256_set1_ps(s.multiplier);
    __m256i sum = _mm256_setzero_si256();
    int8_t* block = group + b * kBlock * kInt8TokenGroup;
    for (size_t i = 0; i < kBlock; i += 8) {
      // A zero multiplier (NaN, infinity, denormal-sized block) gives zeros, as in the reference.
      const __m256 scaled =
          s.multiplier == 0.0f ? _mm256_setzero_ps() : _mm256_mul_ps(_mm256_loadu_ps(x + i), multiplier);
      const __m256i values = _mm256_cvtps_epi32(scaled);  // MXCSR: nearest even
      sum = _mm256_add_epi32(sum, values);
      // Bytes 0..3 of the low lane and of the high one: steps i / 4 and i / 4 + 1 of this token.
      const __m256i words = _mm256_packs_epi32(values, values);
      const __m256i bytes = _mm256_packs_epi16(words, words);
      int8_t* step = block + ((i / 4) * kInt8TokenGroup + lane) * 4;
      const int32_t first = _mm256_cvtsi256_si32(bytes), second = _mm256_extract_epi32(bytes, 4);
      std::memcpy(step, &first, 4);
      std::memcpy(step + 4 * kInt8TokenGroup, &second, 4);
    }
    __m128i total = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 0x4e));
    total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 0xb1));
    out.scales[b * padded + token] = s.scale;
    out.offsets[b * padded + token] = -128 * _mm_cvtsi128_si32(total);
  }
}

bool runs_here() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx2 && cpu.fma && cpu.f16c;
}

}  // namespace

const Int8PromptKernels* avx2_int8_kernels() {
  static const Int8PromptKernels kernels{
      .isa = Isa::avx2,
      .tiles = gemm_int8_tiles,
      .quantize_weight_row = quantize_weight_row,
      .pack_tile = pack_tile,
      .quantize_activation = quantize_activation,
      .q4k_row_nibbles = q4k_row_nibbles,
      .q4k_tiles = gemm_q4k_tiles,
      // The crossovers are larger than the VNNI tables': the dot kernels lose less to vpmaddubsw
      // (ops/gemm.h). q4k multiplied as stored (q4k_tiles) starts as early as VNNI's.
      .types = int8_type_rows(avx2_row_as_int8(), rows_by_type<uint32_t>({
                                                      {TensorType::q8, 14},
                                                      {TensorType::q4, 24},
                                                      {TensorType::q4k, 12},
                                                      {TensorType::q6k, 28},
                                                      {TensorType::q3k, 24},
                                                  })),
      .default_min_tokens = 28,
  };
  return runs_here() ? &kernels : nullptr;
}

}  // namespace smoe::quant
