// f16 and int8 vectors against f32 ones: the attention loops over an f16 or q8 KV cache
// (scalar references).
#pragma once

#include <cstddef>
#include <cstdint>

namespace smoe::quant {

// sum_i f16(a[i]) * b[i]
float dot_f16_f32_ref(const uint16_t* a, const float* b, size_t n);
// y[i] += weight * f16(x[i])
void axpy_f16_ref(float weight, const uint16_t* x, float* y, size_t n);

// Grouped-query attention reads one key or value row for several query heads: convert it once.
// out[j] = sum_i f16(k[i]) * q[j * n + i] for j < group
void dot_f16_group_ref(const uint16_t* k, const float* q, size_t group, size_t n, float* out);
// y[j * n + i] += weights[j] * f16(v[i]) for j < group
void axpy_f16_group_ref(const float* weights, const uint16_t* v, float* y, size_t group, size_t n);

// The same over an int8 KV cache (one scale per row slice, applied by the caller):
// out[j] = sum_i k[i] * q[j * n + i];  y[j * n + i] += weights[j] * v[i]
void dot_i8_group_ref(const int8_t* k, const float* q, size_t group, size_t n, float* out);
void axpy_i8_group_ref(const float* weights, const int8_t* v, float* y, size_t group, size_t n);

}  // namespace smoe::quant
