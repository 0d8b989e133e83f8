// AVX2 (with F16C) decoders of q4k, q8, q6k and q3k rows to f32, for the int8 prompt path on
// CPUs with AVX-VNNI and no AVX-512 (compiled with -mavx2 -mf16c and no -mfma, so that GCC cannot
// fuse a multiply and a subtraction: the values are the scalar references', bit for bit).
#include "quant/cpu_features.h"
#include "quant/dequantize_f32.h"
#include "quant/x86/dequantize.h"

namespace smoe::quant {

DequantizeF32Fn avx2_dequantize_f32(TensorType type) {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx2 && cpu.f16c ? f32_row_decoder<Avx2Vector>(type) : nullptr;
}

}  // namespace smoe::quant
