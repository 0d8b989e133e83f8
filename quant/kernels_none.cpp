// Builds without x86-64 kernels (other architectures): only the scalar table exists.
#include "quant/dequantize_bf16.h"
#include "quant/kernels.h"

namespace smoe::quant {

const Kernels* avx2_kernels(Prefetch) { return nullptr; }
const Kernels* avx2_vnni_kernels(Prefetch) { return nullptr; }
const Kernels* avx512_kernels(Prefetch) { return nullptr; }
const Kernels* avx512_vnni_kernels(Prefetch) { return nullptr; }
DequantizeBf16Fn avx512_dequantize_bf16(TensorType) { return nullptr; }

}  // namespace smoe::quant
