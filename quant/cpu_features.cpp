// CPUID leaves 1 and 7 (sub-leaves 0 and 1); XCR0 says whether the OS saves the YMM / ZMM state.
#include "quant/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace smoe::quant {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
    const bool amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163;    // "Auth" "enti" "cAMD"
    const bool hygon = ebx == 0x6f677948 && edx == 0x6e65476e && ecx == 0x656e6975;  // "Hygo" "nGen" "uine": Zen
    f.amd = amd || hygon;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = ecx & (1u << 27);
    f.fma = ecx & (1u << 12);
    f.f16c = ecx & (1u << 29);
    unsigned xcr0_low = 0, xcr0_high = 0;
    if (osxsave) __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    const bool ymm = (xcr0_low & 0x6) == 0x6;     // SSE and AVX state
    const bool zmm = (xcr0_low & 0xe6) == 0xe6;   // plus opmask and ZMM state
    const bool tiles = (xcr0_low & 0x60000) == 0x60000;  // XTILECFG and XTILEDATA
    if (!ymm) {
      f.fma = f.f16c = false;
      return f;
    }
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
      f.avx2 = ebx & (1u << 5);
      f.avx512f = zmm && (ebx & (1u << 16));
      f.avx512bw = zmm && (ebx & (1u << 30));
      f.avx512vl = zmm && (ebx & (1u << 31));
      f.avx512_vnni = zmm && (ecx & (1u << 11));
      f.amx_bf16 = edx & (1u << 22);
      f.amx_int8 = tiles && (edx & (1u << 24)) && (edx & (1u << 25));  // AMX-TILE and AMX-INT8
    }
    if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) {
      f.avx_vnni = f.avx2 && (eax & (1u << 4));
      f.avx512_bf16 = zmm && (eax & (1u << 5));
    }
#endif
    return f;
  }();
  return features;
}

}  // namespace smoe::quant
