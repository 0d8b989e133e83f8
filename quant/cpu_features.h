// x86 CPU features, read once with CPUID (and XGETBV for the OS's AVX / AVX-512 state), the
// same way under GCC and clang (their __builtin_cpu_supports names differ: clang 14 has no
// "f16c"). All false on other architectures.
#pragma once

namespace smoe::quant {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx_vnni = false;  // avx_vnni: the VEX-encoded vpdpbusd
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512_vnni = false, avx512_bf16 = false;
  bool amx_bf16 = false, amx_int8 = false;  // with the OS's tile state (XCR0); Linux also wants a request
  // Vendor "AuthenticAMD" (or "HygonGenuine", Zen cores): with avx512f (Zen 4 and later) it
  // chooses the prefetch variant of the kernels (kernels.h).
  bool amd = false;
};

const CpuFeatures& cpu_features();

}  // namespace smoe::quant
