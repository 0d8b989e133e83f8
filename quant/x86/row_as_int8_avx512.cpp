// The AVX-512 (F/BW/VL with F16C) build of x86/row_as_int8.h, named by the avx512-vnni int8
// table's rows (which exist only on CPUs that have the instructions).
#include "quant/gemm_int8.h"
#include "quant/x86/row_as_int8.h"

namespace smoe::quant {

const RowAsInt8ByType& avx512_row_as_int8() {
  static const RowAsInt8ByType requantizers = requantizers_by_type();
  return requantizers;
}

}  // namespace smoe::quant
