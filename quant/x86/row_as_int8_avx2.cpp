// The AVX2 (with F16C) build of x86/row_as_int8.h, for the avx2-vnni int8 prompt kernels;
// chosen only on CPUs that have them.
#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/x86/row_as_int8.h"

namespace smoe::quant {

RowAsInt8Fn avx2_row_as_int8(TensorType type) {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx2 && cpu.f16c ? row_as_int8_for(type) : nullptr;
}

}  // namespace smoe::quant
