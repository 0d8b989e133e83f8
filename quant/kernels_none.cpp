// Builds without x86-64 kernels (other architectures): only the scalar table exists.
#include "quant/kernels.h"

namespace smoe::quant {

const Kernels* avx2_kernels() { return nullptr; }
const Kernels* avx512_kernels() { return nullptr; }

}  // namespace smoe::quant
