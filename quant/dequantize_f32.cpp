// Dispatch of the fast f32 row decoders (dequantize_f32.h).
#include "quant/dequantize_f32.h"

#include <cstdlib>
#include <string_view>

#include "quant/convert_row.h"
#include "quant/cpu_features.h"

namespace smoe::quant {
namespace {

bool avx512_allowed() {
  static const bool allowed = [] {
    if (const char* forced = std::getenv("SMOE_ISA")) {
      const std::string_view isa(forced);
      if (isa == "scalar" || isa == "avx2") return false;
    }
    const CpuFeatures& cpu = cpu_features();
    return cpu.avx512f && cpu.avx512bw;
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
