// The AVX-512 (F/BW/VL with F16C) build of q4k_as_int8_x86.h, chosen only on CPUs that have them.
#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/q4k_as_int8_x86.h"

namespace smoe::quant {

Q4kRowAsInt8Fn avx512_q4k_row_as_int8() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.f16c ? q4k_row_as_int8 : nullptr;
}

}  // namespace smoe::quant
