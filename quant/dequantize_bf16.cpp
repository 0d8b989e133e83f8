// Reference bf16 decode and the run-time choice of the AVX-512 kernels.
#include "quant/dequantize_bf16.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "quant/convert_row.h"
#include "quant/cpu_features.h"
#include "quant/half.h"

namespace smoe::quant {

void dequantize_row_bf16_ref(TensorType type, const void* src, uint16_t* dst, size_t n) {
  if (type == TensorType::bf16) {
    std::memcpy(dst, src, n * sizeof(uint16_t));
    return;
  }
  thread_local std::vector<float> row;
  row.resize(n);
  dequantize_row(type, src, row.data(), n);
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(row[i]);
}

bool cpu_has_native_bf16() {
  static const bool native = [] {
    if (isa_forced_below("avx512")) return false;
    const CpuFeatures& cpu = cpu_features();
    return cpu.avx512_bf16 && cpu.avx512bw && cpu.avx512vl;
  }();
  return native;
}

void dequantize_row_bf16(TensorType type, const void* src, uint16_t* dst, size_t n) {
  if (cpu_has_native_bf16()) {
    if (const DequantizeBf16Fn kernel = avx512_dequantize_bf16(type)) {
      kernel(src, dst, n);
      return;
    }
  }
  dequantize_row_bf16_ref(type, src, dst, n);
}

}  // namespace smoe::quant
