// The one decision of which kernels run (ops/cpu_plan.h).
#include "ops/cpu_plan.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "quant/dequantize_bf16.h"

namespace smoe::ops {

namespace {

// The best level this CPU runs (the later of two it runs).
quant::Isa best_isa(const quant::CpuFeatures& features) {
  using quant::Isa;
  quant::Isa best = Isa::scalar;
  for (const Isa isa : {Isa::avx2, Isa::avx2_vnni, Isa::avx512, Isa::avx512_vnni, Isa::neon, Isa::neon_dotprod}) {
    if (quant::cpu_runs(isa, features)) best = isa;
  }
  return best;
}

template <class Parse>
auto from_environment(const char* variable, Parse parse) -> decltype(parse(std::string_view())) {
  const char* value = std::getenv(variable);
  if (value == nullptr) return std::nullopt;
  try {
    return parse(value);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "smoe: %s=%s ignored: %s\n", variable, value, e.what());
    return std::nullopt;
  }
}

}  // namespace

std::optional<quant::Isa> parse_isa_override(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (auto isa = quant::parse_isa(name)) return isa;
  throw std::invalid_argument("unknown instruction set '" + std::string(name) + "' (one of " +
                              std::string(quant::isa_names()) + ")");
}

std::optional<quant::Prefetch> parse_prefetch_override(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name == "software") return quant::Prefetch::software;
  if (name == "hardware") return quant::Prefetch::hardware;
  throw std::invalid_argument("unknown prefetch variant '" + std::string(name) + "' (software or hardware)");
}

std::optional<PromptPath> parse_prompt_override(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name == "amx" || name == "auto") return PromptPath::automatic;
  if (name == "int8") return PromptPath::int8;
  if (name == "onednn" || name == "bf16") return PromptPath::onednn;
  throw std::invalid_argument("unknown prompt path '" + std::string(name) + "' (amx, int8 or onednn)");
}

CpuOverrides cpu_overrides_from_environment() {
  CpuOverrides overrides{.isa = from_environment("SMOE_ISA", parse_isa_override),
                         .prefetch = from_environment("SMOE_PREFETCH", parse_prefetch_override),
                         .prompt = from_environment("SMOE_PROMPT", parse_prompt_override)};
  if (overrides.isa && !quant::cpu_runs(*overrides.isa, quant::cpu_features())) {
    std::fprintf(stderr, "smoe: SMOE_ISA=%s ignored: this CPU does not run it\n",
                 std::string(quant::isa_name(*overrides.isa)).c_str());
    overrides.isa.reset();
  }
  return overrides;
}

CpuOverrides merge(const CpuOverrides& primary, const CpuOverrides& fallback) {
  return {.isa = primary.isa ? primary.isa : fallback.isa,
          .prefetch = primary.prefetch ? primary.prefetch : fallback.prefetch,
          .prompt = primary.prompt ? primary.prompt : fallback.prompt};
}

std::string CpuPlan::kernels_name() const { return quant::kernels_name(*kernels); }

std::string CpuPlan::prompt_products() const {
  if (int8_prompt != nullptr) return "int8 (" + std::string(quant::int8_kernels_name(*int8_prompt)) + ")";
  return onednn_bf16 ? "bf16 (oneDNN)" : "f32 (oneDNN)";
}

CpuPlan make_cpu_plan(const quant::CpuFeatures& features, const CpuOverrides& overrides) {
  CpuPlan plan;
  plan.isa = overrides.isa.value_or(best_isa(features));
  if (!quant::cpu_runs(plan.isa, features)) {
    throw std::invalid_argument("this CPU does not run " + std::string(quant::isa_name(plan.isa)) +
                                " kernels (its best: " + std::string(quant::isa_name(best_isa(features))) + ")");
  }
  plan.kernels = quant::kernels_for(plan.isa, overrides.prefetch.value_or(quant::preferred_prefetch(features)));
  if (plan.kernels == nullptr) {
    throw std::invalid_argument(std::string(quant::isa_name(plan.isa)) + " kernels are not compiled into this build");
  }
  plan.onednn_bf16 = quant::multiplies_bf16(plan.isa, features);
  const PromptPath prompt = overrides.prompt.value_or(PromptPath::automatic);
  if (prompt != PromptPath::onednn) {
    // AMX CPUs all have AVX512-VNNI: a lower level turns AMX off too, as a CPU of that level
    // would have none. Where the OS refuses AMX-INT8's tiles but AMX-BF16 runs, oneDNN's bf16
    // matmul beats the VNNI kernels. avx512 without VNNI keeps oneDNN's (not measured against
    // the int8 kernels).
    const bool amx = prompt == PromptPath::automatic;
    plan.int8_prompt = quant::int8_kernels_for(plan.isa, amx);
    const bool amx_refused = amx && plan.isa == quant::Isa::avx512_vnni && features.amx_bf16 &&
                             quant::amx_int8_kernels() == nullptr;
    if (amx_refused) plan.int8_prompt = nullptr;
  }
  plan.elementwise = elementwise_kernels(plan.isa);
  return plan;
}

const CpuPlan& default_cpu_plan() {
  static const CpuPlan plan = make_cpu_plan(quant::cpu_features(), cpu_overrides_from_environment());
  return plan;
}

}  // namespace smoe::ops
