// Dispatch of the fast f32 row decoders (dequantize_f32.h).
#include "quant/dequantize_f32.h"

#include "quant/convert_row.h"
#include "quant/cpu_features.h"

namespace smoe::quant {
namespace {

bool avx512_allowed() {
  static const bool allowed = [] {
    const CpuFeatures& cpu = cpu_features();
    return !isa_forced_below("avx512") && cpu.avx512f && cpu.avx512bw && cpu.f16c;
  }();
  return allowed;
}

}  // namespace

void dequantize_row_fast(TensorType type, const void* src, float* dst, size_t n) {
  if (avx512_allowed()) {
    if (const DequantizeF32Fn kernel = avx512_dequantize_f32(type)) {
      kernel(src, dst, n);
      return;
    }
  }
  dequantize_row(type, src, dst, n);
}

#if !defined(__x86_64__)
DequantizeF32Fn avx512_dequantize_f32(TensorType) { return nullptr; }
#endif

}  // namespace smoe::quant
