// Scalar references for the float vector operations (f16_vector.h).
#include "quant/formats/f16_vector.h"

#include "quant/formats/half.h"

namespace smoe::quant {

float dot_f32_ref(const float* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_bf16_f32_ref(const uint16_t* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += bf16_to_f32(a[i]) * b[i];
  return sum;
}

float dot_f16_f32_ref(const uint16_t* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += f16_to_f32(a[i]) * b[i];
  return sum;
}

void dot_rows_f32_ref(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) out[r] = dot_f32_ref(w + r * stride, x, n);
}

void dot_rows_f16_ref(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) out[r] = dot_f16_f32_ref(w + r * stride, x, n);
}

void dot_rows_bf16_ref(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) out[r] = dot_bf16_f32_ref(w + r * stride, x, n);
}

void axpy_f16_ref(float weight, const uint16_t* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += weight * f16_to_f32(x[i]);
}

namespace {

inline float value_of(uint16_t h) { return f16_to_f32(h); }
inline float value_of(int8_t v) { return float(v); }

}  // namespace

template <class T>
void key_scores_ref(const T* keys, const float* scales, size_t count, const float* q, size_t group, size_t n,
                    float* scores, size_t stride) {
  for (size_t p = 0; p < count; ++p) {
    for (size_t j = 0; j < group; ++j) {
      float sum = 0.0f;
      for (size_t i = 0; i < n; ++i) sum += value_of(keys[p * n + i]) * q[j * n + i];
      scores[j * stride + p] = sum * (scales ? scales[p] : 1.0f);
    }
  }
}

template <class T>
void value_sum_ref(const float* weights, size_t stride, const T* values, const float* scales, size_t count, size_t group,
                   size_t n, float* out) {
  for (size_t j = 0; j < group; ++j) {
    for (size_t p = 0; p < count; ++p) {
      const float weight = weights[j * stride + p] * (scales ? scales[p] : 1.0f);
      for (size_t i = 0; i < n; ++i) out[j * n + i] += weight * value_of(values[p * n + i]);
    }
  }
}

template void key_scores_ref(const uint16_t*, const float*, size_t, const float*, size_t, size_t, float*, size_t);
template void key_scores_ref(const int8_t*, const float*, size_t, const float*, size_t, size_t, float*, size_t);
template void value_sum_ref(const float*, size_t, const uint16_t*, const float*, size_t, size_t, size_t, float*);
template void value_sum_ref(const float*, size_t, const int8_t*, const float*, size_t, size_t, size_t, float*);

}  // namespace smoe::quant
