// Builds for other architectures (AArch64, others): the x86 kernels' accessors, in one place,
// say that there are none.
#include "quant/dequantize_bf16.h"
#include "quant/dequantize_f32.h"
#include "quant/gemm_int8.h"
#include "quant/kernels.h"

namespace smoe::quant {

const Kernels* avx2_kernels(Prefetch) { return nullptr; }
const Kernels* avx2_vnni_kernels(Prefetch) { return nullptr; }
const Kernels* avx512_kernels(Prefetch) { return nullptr; }
const Kernels* avx512_vnni_kernels(Prefetch) { return nullptr; }
DequantizeBf16Fn avx512_dequantize_bf16(TensorType) { return nullptr; }
DequantizeF32Fn avx512_dequantize_f32(TensorType) { return nullptr; }
DequantizeF32Fn avx2_dequantize_f32(TensorType) { return nullptr; }
const Int8PromptKernels* amx_int8_kernels() { return nullptr; }
const Int8PromptKernels* avx512_vnni_int8_kernels() { return nullptr; }
const Int8PromptKernels* avx2_vnni_int8_kernels() { return nullptr; }
const Int8PromptKernels* avx2_int8_kernels() { return nullptr; }
RowAsInt8Fn avx512_row_as_int8(TensorType) { return nullptr; }
RowAsInt8Fn avx2_row_as_int8(TensorType) { return nullptr; }

}  // namespace smoe::quant
