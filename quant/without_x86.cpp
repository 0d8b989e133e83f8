// Builds for other architectures (AArch64, others): the x86 kernels' accessors, in one place,
// say that there are none.
#include "quant/gemm_int8.h"
#include "quant/kernels.h"

namespace smoe::quant {

const Kernels* avx2_kernels(Prefetch) { return nullptr; }
const Kernels* avx2_vnni_kernels(Prefetch) { return nullptr; }
const Kernels* avx512_kernels(Prefetch) { return nullptr; }
const Kernels* avx512_vnni_kernels(Prefetch) { return nullptr; }
const Int8PromptKernels* amx_int8_kernels() { return nullptr; }
const Int8PromptKernels* avx512_vnni_int8_kernels() { return nullptr; }
const Int8PromptKernels* avx2_vnni_int8_kernels() { return nullptr; }
const Int8PromptKernels* avx2_int8_kernels() { return nullptr; }

}  // namespace smoe::quant
