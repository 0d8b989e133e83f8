// The instruction-set levels smoe has kernels for, by name. x86 levels are ordered (each one
// has what the previous has); the arm ones stand apart.
#pragma once

#include <iosfwd>
#include <optional>
#include <string_view>

#include "quant/cpu_features.h"

namespace smoe::quant {

enum class Isa : unsigned char { scalar, avx2, avx2_vnni, avx512, avx512_vnni, neon, neon_dotprod };

// "scalar", "avx2", "avx2-vnni", "avx512", "avx512-vnni", "neon", "neon-dotprod".
std::string_view isa_name(Isa isa);
// The level named `name`, or nullopt for a name that is none of isa_name()'s.
std::optional<Isa> parse_isa(std::string_view name);
// Every name parse_isa() takes, separated by ", " (for error messages).
std::string_view isa_names();
// Whether a CPU with `features` runs `isa`'s kernels (scalar everywhere; neon on AArch64).
bool cpu_runs(Isa isa, const CpuFeatures& features);
std::ostream& operator<<(std::ostream& out, Isa isa);  // its name
// Whether `isa` is an x86 level at or above `level` (scalar counts as below every x86 level).
bool isa_at_least(Isa isa, Isa level);

}  // namespace smoe::quant
