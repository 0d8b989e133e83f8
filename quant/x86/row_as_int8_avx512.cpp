// The AVX-512 (F/BW/VL with F16C) build of x86/row_as_int8.h, chosen only on CPUs that have them.
#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/x86/row_as_int8.h"

namespace smoe::quant {

RowAsInt8Fn avx512_row_as_int8(TensorType type) {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.f16c ? row_as_int8_for(type) : nullptr;
}

}  // namespace smoe::quant
