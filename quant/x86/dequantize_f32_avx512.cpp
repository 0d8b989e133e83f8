// AVX-512 (F, BW, with F16C) decoders of q4k, q8, q6k and q3k rows to f32, compiled with those
// flags and chosen only on CPUs that have them; the same values as the scalar references
// (dequantize_f32.h).
#include "quant/cpu_features.h"
#include "quant/dequantize_f32.h"
#include "quant/x86/dequantize.h"

namespace smoe::quant {

DequantizeF32Fn avx512_dequantize_f32(TensorType type) {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512f && cpu.avx512bw && cpu.f16c ? f32_row_decoder<Avx512Vector>(type) : nullptr;
}

}  // namespace smoe::quant
