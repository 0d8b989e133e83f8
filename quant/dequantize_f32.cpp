// Dispatch of the fast f32 row decoders (dequantize_f32.h).
#include "quant/dequantize_f32.h"

#include "quant/formats/convert_row.h"

namespace smoe::quant {
void dequantize_row_fast(Isa isa, TensorType type, const void* src, float* dst, size_t n) {
  const DequantizeF32Fn kernel = isa_at_least(isa, Isa::avx512) ? avx512_dequantize_f32(type)
                                 : isa_at_least(isa, Isa::avx2) ? avx2_dequantize_f32(type)
                                                                : nullptr;
  if (kernel != nullptr) {
    kernel(src, dst, n);
  } else {
    dequantize_row(type, src, dst, n);
  }
}

}  // namespace smoe::quant
