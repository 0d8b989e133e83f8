// f32, f16, bf16 and int8 vectors against f32 ones: unquantized weight rows, and the attention
// loops over an f16 or q8 KV cache (scalar references).
#pragma once

#include <cstddef>
#include <cstdint>

namespace smoe::quant {

// sum_i a[i] * b[i], with a f32, f16 or bf16
float dot_f32_ref(const float* a, const float* b, size_t n);
float dot_f16_f32_ref(const uint16_t* a, const float* b, size_t n);
float dot_bf16_f32_ref(const uint16_t* a, const float* b, size_t n);
// out[r] = sum_i w[r * stride + i] * x[i] for r < rows, with w f32, f16 or bf16: the float
// weight entries of the Kernels table (kernels.h).
void dot_rows_f32_ref(const float* w, size_t stride, size_t rows, const float* x, size_t n, float* out);
void dot_rows_f16_ref(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out);
void dot_rows_bf16_ref(const uint16_t* w, size_t stride, size_t rows, const float* x, size_t n, float* out);
// y[i] += weight * f16(x[i])
void axpy_f16_ref(float weight, const uint16_t* x, float* y, size_t n);

// Scalar references of the attention kernels of the Kernels table (kernels.h), for f16
// (T = uint16_t) and int8 (T = int8_t) caches: one KV head's positions are rows of n values,
// row p is scales[p] times the stored row (scales nullptr: unscaled); `group` query heads
// share them.
// scores[j * stride + p] = sum_i key[p * n + i] * q[j * n + i]
template <class T>
void key_scores_ref(const T* keys, const float* scales, size_t count, const float* q, size_t group, size_t n,
                    float* scores, size_t stride);
// out[j * n + i] += sum_p weights[j * stride + p] * value[p * n + i]
template <class T>
void value_sum_ref(const float* weights, size_t stride, const T* values, const float* scales, size_t count, size_t group,
                   size_t n, float* out);
extern template void key_scores_ref(const uint16_t*, const float*, size_t, const float*, size_t, size_t, float*, size_t);
extern template void key_scores_ref(const int8_t*, const float*, size_t, const float*, size_t, size_t, float*, size_t);
extern template void value_sum_ref(const float*, size_t, const uint16_t*, const float*, size_t, size_t, size_t, float*);
extern template void value_sum_ref(const float*, size_t, const int8_t*, const float*, size_t, size_t, size_t, float*);

}  // namespace smoe::quant
