// Scalar references for quantized activations and the integer dot products.
#include "quant/formats/block_q8a.h"

#include <algorithm>
#include <cmath>

#include "quant/formats/half.h"

namespace smoe::quant {

namespace {

int32_t sum_of(const int8_t* qs, size_t n) {
  int32_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += qs[i];
  return sum;
}

}  // namespace

float quantize_symmetric(const float* x, size_t n, int8_t* qs) {
  float absmax = 0.0f;
  for (size_t i = 0; i < n; ++i) absmax = std::max(absmax, std::fabs(x[i]));
  const float d = absmax / 127.0f;
  const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
  for (size_t i = 0; i < n; ++i) qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * inverse));
  return d;
}

void quantize_row_q8a_ref(const float* x, BlockQ8A* out, size_t n) {
  for (size_t b = 0; b < n / BlockQ8A::kElements; ++b) {
    out[b].d = quantize_symmetric(x + b * BlockQ8A::kElements, BlockQ8A::kElements, out[b].qs);
    out[b].sum = sum_of(out[b].qs, BlockQ8A::kElements);
  }
}

void quantize_row_q8k_ref(const float* x, BlockQ8K* out, size_t n) {
  for (size_t b = 0; b < n / BlockQ8K::kElements; ++b) {
    out[b].d = quantize_symmetric(x + b * BlockQ8K::kElements, BlockQ8K::kElements, out[b].qs);
    for (size_t j = 0; j < 8; ++j) out[b].sums[j] = static_cast<int16_t>(sum_of(out[b].qs + 32 * j, 32));
    for (size_t j = 0; j < 16; ++j) out[b].sums16[j] = static_cast<int16_t>(sum_of(out[b].qs + 16 * j, 16));
  }
}

float dot_q4k_q8k_ref(const BlockQ4K* w, const BlockQ8K* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    int32_t scaled_dot = 0, scaled_minimum = 0;
    for (size_t j = 0; j < 8; ++j) {
      uint8_t scale = 0, min = 0;
      q4k_scale_min(w[b].scales, j, &scale, &min);
      const size_t chunk = j / 2, shift = 4 * (j % 2);
      int32_t dot = 0;
      for (size_t l = 0; l < 32; ++l) dot += int32_t((w[b].qs[chunk * 32 + l] >> shift) & 15) * a[b].qs[j * 32 + l];
      scaled_dot += int32_t(scale) * dot;
      scaled_minimum += int32_t(min) * a[b].sums[j];
    }
    total += a[b].d * (f16_to_f32(w[b].d) * float(scaled_dot) - f16_to_f32(w[b].dmin) * float(scaled_minimum));
  }
  return total;
}

float dot_q8_q8a_ref(const BlockQ8* w, const BlockQ8A* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / BlockQ8::kElements; ++b) {
    int32_t dot = 0;
    for (size_t i = 0; i < BlockQ8::kElements; ++i) dot += int32_t(w[b].qs[i]) * a[b].qs[i];
    total += f16_to_f32(w[b].d) * a[b].d * float(dot);
  }
  return total;
}

float dot_q4_q8a_ref(const BlockQ4* w, const BlockQ8A* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / BlockQ4::kElements; ++b) {
    int32_t dot = 0;
    for (size_t j = 0; j < BlockQ4::kElements / 2; ++j) {
      dot += int32_t(w[b].qs[j] & 15) * a[b].qs[j] + int32_t(w[b].qs[j] >> 4) * a[b].qs[j + 16];
    }
    total += a[b].d * (f16_to_f32(w[b].d) * float(dot) + f16_to_f32(w[b].m) * float(a[b].sum));
  }
  return total;
}

float dot_q4k_q8a_ref(const BlockQ4K* w, const BlockQ8A* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / BlockQ4K::kElements; ++b) {
    const float d = f16_to_f32(w[b].d), dmin = f16_to_f32(w[b].dmin);
    for (size_t chunk = 0; chunk < 4; ++chunk) {
      for (size_t half = 0; half < 2; ++half) {
        const size_t j = 2 * chunk + half;  // sub-block
        const BlockQ8A& act = a[b * 8 + j];
        uint8_t scale = 0, min = 0;
        q4k_scale_min(w[b].scales, j, &scale, &min);
        int32_t dot = 0;
        for (size_t l = 0; l < 32; ++l) dot += int32_t((w[b].qs[chunk * 32 + l] >> (4 * half)) & 15) * act.qs[l];
        total += act.d * (d * float(scale) * float(dot) - dmin * float(min) * float(act.sum));
      }
    }
  }
  return total;
}

// Sub-blocks of 16 with signed integer scales: integer products per sub-block, scaled in integers.
float dot_q6k_q8k_ref(const BlockQ6K* w, const BlockQ8K* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / BlockQ6K::kElements; ++b) {
    int32_t scaled = 0;
    for (size_t j = 0; j < 16; ++j) {
      int32_t dot = 0;
      for (size_t l = 0; l < 16; ++l) dot += (q6k_value(w[b], 16 * j + l) - 32) * int32_t(a[b].qs[16 * j + l]);
      scaled += int32_t(w[b].scales[j]) * dot;
    }
    total += f16_to_f32(w[b].d) * a[b].d * float(scaled);
  }
  return total;
}

float dot_q3k_q8k_ref(const BlockQ3K* w, const BlockQ8K* a, size_t n) {
  float total = 0.0f;
  for (size_t b = 0; b < n / BlockQ3K::kElements; ++b) {
    int8_t scales[16];
    q3k_unpack_scales(w[b].scales, scales);
    int32_t scaled = 0;
    for (size_t j = 0; j < 16; ++j) {
      int32_t dot = 0;
      for (size_t l = 0; l < 16; ++l) dot += (q3k_value(w[b], 16 * j + l) - 4) * int32_t(a[b].qs[16 * j + l]);
      scaled += int32_t(scales[j]) * dot;
    }
    total += f16_to_f32(w[b].d) * a[b].d * float(scaled);
  }
  return total;
}

}  // namespace smoe::quant
