// Scalar references for f16 vector operations.
#include "quant/f16_vector.h"

#include "quant/half.h"

namespace smoe::quant {

float dot_f16_f32_ref(const uint16_t* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += f16_to_f32(a[i]) * b[i];
  return sum;
}

void axpy_f16_ref(float weight, const uint16_t* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += weight * f16_to_f32(x[i]);
}

void dot_f16_group_ref(const uint16_t* k, const float* q, size_t group, size_t n, float* out) {
  for (size_t j = 0; j < group; ++j) out[j] = dot_f16_f32_ref(k, q + j * n, n);
}

void axpy_f16_group_ref(const float* weights, const uint16_t* v, float* y, size_t group, size_t n) {
  for (size_t j = 0; j < group; ++j) axpy_f16_ref(weights[j], v, y + j * n, n);
}

void dot_i8_group_ref(const int8_t* k, const float* q, size_t group, size_t n, float* out) {
  for (size_t j = 0; j < group; ++j) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i) sum += float(k[i]) * q[j * n + i];
    out[j] = sum;
  }
}

void axpy_i8_group_ref(const float* weights, const int8_t* v, float* y, size_t group, size_t n) {
  for (size_t j = 0; j < group; ++j) {
    for (size_t i = 0; i < n; ++i) y[j * n + i] += weights[j] * float(v[i]);
  }
}

}  // namespace smoe::quant
