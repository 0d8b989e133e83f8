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

bool avx2_allowed() {
  static const bool allowed = !isa_forced_below("avx2") && cpu_features().avx2 && cpu_features().f16c;
  return allowed;
}

}  // namespace

void dequantize_row_fast(TensorType type, const void* src, float* dst, size_t n) {
  const DequantizeF32Fn kernel = avx512_allowed() ? avx512_dequantize_f32(type)
                                 : avx2_allowed() ? avx2_dequantize_f32(type)
                                                  : nullptr;
  if (kernel != nullptr) {
    kernel(src, dst, n);
  } else {
    dequantize_row(type, src, dst, n);
  }
}

#if !defined(__x86_64__)
DequantizeF32Fn avx512_dequantize_f32(TensorType) { return nullptr; }
DequantizeF32Fn avx2_dequantize_f32(TensorType) { return nullptr; }
#endif

}  // namespace smoe::quant
