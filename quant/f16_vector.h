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

// Scalar references of the attention kernels of the Kernels table (kernels.h): one KV head's
// positions are rows of n values; `group` query heads share them.
// scores[j * stride + p] = sum_i key[p * n + i] * q[j * n + i]
void key_scores_f16_ref(const uint16_t* keys, size_t count, const float* q, size_t group, size_t n, float* scores,
                        size_t stride);
// out[j * n + i] += sum_p weights[j * stride + p] * value[p * n + i]
void value_sum_f16_ref(const float* weights, size_t stride, const uint16_t* values, size_t count, size_t group, size_t n,
                       float* out);
// The same over an int8 cache whose row p is scales[p] * the int8 row.
void key_scores_i8_ref(const int8_t* keys, const float* scales, size_t count, const float* q, size_t group, size_t n,
                       float* scores, size_t stride);
void value_sum_i8_ref(const float* weights, size_t stride, const int8_t* values, const float* scales, size_t count,
                      size_t group, size_t n, float* out);

}  // namespace smoe::quant
