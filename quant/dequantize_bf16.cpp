// Reference bf16 decode, and whether a CPU multiplies bf16 natively.
#include "quant/dequantize_bf16.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "quant/formats/convert_row.h"
#include "quant/cpu_features.h"
#include "quant/formats/half.h"

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

bool multiplies_bf16(Isa isa, const CpuFeatures& features) {
  return isa_at_least(isa, Isa::avx512) && features.avx512_bf16 && features.avx512bw && features.avx512vl;
}

}  // namespace smoe::quant
