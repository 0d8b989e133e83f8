// The Isa::avx2_vnni table (compiled with -mavx2 -mavxvnni -mfma -mf16c; selected only on CPUs that
// have AVX-VNNI: Intel's client cores since Alder Lake, which lack AVX-512): the avx2 table with
// the VNNI dot kernels of kernels_vnni.h, VEX-encoded.
#include "quant/cpu_features.h"
#include "quant/kernels.h"
#include "quant/x86/kernels_vnni.h"

namespace smoe::quant {
namespace {

template <Prefetch P>
const Kernels& avx2_vnni_table() {
  static const Kernels kernels = vnni_table<P>(*avx2_kernels(P), Isa::avx2_vnni);
  return kernels;
}

}  // namespace

const Kernels* avx2_vnni_kernels(Prefetch prefetch) {
  if (avx2_kernels(prefetch) == nullptr || !cpu_features().avx_vnni) return nullptr;
  return prefetch == Prefetch::software ? &avx2_vnni_table<Prefetch::software>()
                                        : &avx2_vnni_table<Prefetch::hardware>();
}

}  // namespace smoe::quant
