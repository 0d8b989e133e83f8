// Names and availability of the instruction-set levels.
#include "quant/isa.h"

#include <iterator>
#include <ostream>

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

namespace smoe::quant {

namespace {

constexpr std::string_view kNames[] = {"scalar", "avx2", "avx2-vnni", "avx512", "avx512-vnni", "neon", "neon-dotprod"};

bool is_arm(Isa isa) { return isa == Isa::neon || isa == Isa::neon_dotprod; }

}  // namespace

std::string_view isa_name(Isa isa) { return kNames[static_cast<size_t>(isa)]; }

std::ostream& operator<<(std::ostream& out, Isa isa) { return out << isa_name(isa); }

std::optional<Isa> parse_isa(std::string_view name) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) return static_cast<Isa>(i);
  }
  return std::nullopt;
}

std::string_view isa_names() { return "scalar, avx2, avx2-vnni, avx512, avx512-vnni, neon, neon-dotprod"; }

bool cpu_runs(Isa isa, const CpuFeatures& f) {
  const bool avx2 = f.avx2 && f.fma && f.f16c, avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl;
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return avx2;
    case Isa::avx2_vnni: return avx2 && f.avx_vnni;
    case Isa::avx512: return avx512;
    case Isa::avx512_vnni: return avx512 && f.avx512_vnni;
#if defined(__aarch64__)
    case Isa::neon: return true;
    case Isa::neon_dotprod: return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
    case Isa::neon:
    case Isa::neon_dotprod: return false;
#endif
  }
  return false;
}

bool isa_at_least(Isa isa, Isa level) {
  if (is_arm(isa) || is_arm(level)) return false;
  return static_cast<int>(isa) >= static_cast<int>(level);
}

}  // namespace smoe::quant
