// How the CPU runs a model, decided in one place: the instruction-set level of the dot and
// attention kernels, their prefetch variant, how prompts multiply quantized weights (smoe's
// int8 kernels, with AMX or without, or oneDNN in bf16 or f32), the weight decoders and the
// element-wise kernels. Resolved once per model from the CPU's features and the overrides
// (ModelOptions; the environment variables SMOE_ISA, SMOE_PREFETCH and SMOE_PROMPT as the
// tools' fallback), then handed to every operation through CpuContext.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ops/elementwise.h"
#include "quant/cpu_features.h"
#include "quant/gemm_int8.h"
#include "quant/isa.h"
#include "quant/kernels.h"

namespace smoe::ops {

// How prompts multiply quantized weights. automatic: AMX where the CPU and OS run it, else the
// level's int8 kernels, else oneDNN; int8: the level's int8 kernels, never AMX; onednn: oneDNN's
// bf16 matmul where the CPU multiplies bf16, else its f32 sgemm (the comparison path).
enum class PromptPath { automatic, int8, onednn };

struct CpuOverrides {
  std::optional<quant::Isa> isa;            // a level below the CPU's best, for tests and comparisons
  std::optional<quant::Prefetch> prefetch;  // software / hardware prefetch variant of the x86 tables
  std::optional<PromptPath> prompt;
};

// Parses an override's name ("avx2", "software", "int8"...); throws std::invalid_argument
// naming the value and the accepted ones. An empty name is "not overridden".
std::optional<quant::Isa> parse_isa_override(std::string_view name);
std::optional<quant::Prefetch> parse_prefetch_override(std::string_view name);
std::optional<PromptPath> parse_prompt_override(std::string_view name);  // amx (= automatic), int8, onednn (or bf16)

// SMOE_ISA, SMOE_PREFETCH and SMOE_PROMPT: the only place smoe reads them. A value that is not
// one of the names, or a level this CPU does not run, is ignored with a warning on stderr.
CpuOverrides cpu_overrides_from_environment();
// `primary`'s fields where set, else `fallback`'s.
CpuOverrides merge(const CpuOverrides& primary, const CpuOverrides& fallback);

struct CpuPlan {
  quant::Isa isa = quant::Isa::scalar;
  const quant::Kernels* kernels = nullptr;                  // decoding's dot products and attention
  const quant::Int8PromptKernels* int8_prompt = nullptr;   // nullptr: prompts through oneDNN
  bool onednn_bf16 = false;                                 // oneDNN's path decodes to bf16 (else f32)
  ElementwiseKernels elementwise;

  quant::Prefetch prefetch() const { return kernels->prefetch; }
  // "avx512-vnni", or "avx2+prefetch" for the variant with prefetch instructions.
  std::string kernels_name() const;
  // "int8 (amx)", "int8 (avx512-vnni)", "int8 (avx2)", "bf16 (oneDNN)" or "f32 (oneDNN)".
  std::string prompt_products() const;
};

// The plan for a CPU with `features` under `overrides`. An override this CPU cannot run (a
// level it lacks) throws std::invalid_argument naming it.
CpuPlan make_cpu_plan(const quant::CpuFeatures& features, const CpuOverrides& overrides = {});

// The plan of code that runs without a model (the converter, tests, benchmarks): this CPU's
// best under the environment's overrides. Resolved once.
const CpuPlan& default_cpu_plan();

// What every operation needs from its caller: the plan and the number of threads.
struct CpuContext {
  const CpuPlan& plan;
  int threads = 1;
  // Each row of a batch multiplied by the decoding kernels, as a lone token would be, however
  // many rows there are (no prompt-time matrix products): for a batch of several sequences'
  // next tokens, which must come out as each would alone.
  bool rows_one_by_one = false;
};

}  // namespace smoe::ops
