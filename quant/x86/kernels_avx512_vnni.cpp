// The Isa::avx512_vnni table (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
// -mavx2 -mfma -mf16c; selected only on CPUs that have them): the avx512 table with the VNNI dot
// kernels of kernels_vnni.h.
#include "quant/cpu_features.h"
#include "quant/kernels.h"
#include "quant/x86/kernels_vnni.h"

namespace smoe::quant {
namespace {

template <Prefetch P>
const Kernels& avx512_vnni_table() {
  static const Kernels kernels = vnni_table<P>(*avx512_kernels(P), Isa::avx512_vnni);
  return kernels;
}

}  // namespace

const Kernels* avx512_vnni_kernels(Prefetch prefetch) {
  if (avx512_kernels(prefetch) == nullptr || !cpu_features().avx512_vnni) return nullptr;
  return prefetch == Prefetch::software ? &avx512_vnni_table<Prefetch::software>()
                                        : &avx512_vnni_table<Prefetch::hardware>();
}

}  // namespace smoe::quant
