// Kernel tables and their one-time selection.
#include "quant/kernels.h"

#include <cstdlib>
#include <string_view>

#include "quant/cpu_features.h"

namespace smoe::quant {

const Kernels& scalar_kernels() {
  static const Kernels kernels{"scalar",        quantize_row_q8a_ref, quantize_row_q8k_ref, dot_q8_q8a_ref,
                               dot_q4_q8a_ref,  dot_q4k_q8k_ref,      dot_q6k_q8k_ref,      dot_q3k_q8k_ref,
                               dot_rows_f32_ref, dot_rows_f16_ref,   dot_rows_bf16_ref,
                               key_scores_ref<uint16_t>, value_sum_ref<uint16_t>, key_scores_ref<int8_t>, value_sum_ref<int8_t>,
                               Prefetch::hardware, dot_q4k_x8_q8k_ref, deinterleave_q4k_x8_rows,
                               dot_q8_x8_q8a_ref, deinterleave_q8_x8_rows};
  return kernels;
}

std::string kernels_name(const Kernels& kernels) {
  return std::string(kernels.isa) + (kernels.prefetch == Prefetch::software ? "+prefetch" : "");
}

std::vector<const Kernels*> available_kernels() {
  std::vector<const Kernels*> tables = {&scalar_kernels()};
  for (auto* x86_table : {avx2_kernels, avx2_vnni_kernels, avx512_kernels, avx512_vnni_kernels}) {
    for (const Prefetch prefetch : {Prefetch::software, Prefetch::hardware}) {
      if (const Kernels* table = x86_table(prefetch)) tables.push_back(table);
    }
  }
  if (const Kernels* neon = neon_kernels()) tables.push_back(neon);
  if (const Kernels* dotprod = neon_dotprod_kernels()) tables.push_back(dotprod);
  return tables;
}

#if !defined(__aarch64__)
const Kernels* neon_kernels() { return nullptr; }
const Kernels* neon_dotprod_kernels() { return nullptr; }
#endif

Prefetch preferred_prefetch() {
  if (const char* forced = std::getenv("SMOE_PREFETCH")) {
    if (std::string_view(forced) == "software") return Prefetch::software;
    if (std::string_view(forced) == "hardware") return Prefetch::hardware;
  }
  // Zen 4 (the first AMD core with AVX-512) keeps up without the instructions; Zen 3 does not:
  // its one-thread decode reads a larger share of the bandwidth with them (docs/PERFORMANCE.md).
  const CpuFeatures& features = cpu_features();
  return features.amd && features.avx512f ? Prefetch::hardware : Prefetch::software;
}

const Kernels& choose_kernels(const std::vector<const Kernels*>& tables, const char* isa, Prefetch prefetch) {
  std::string_view chosen_isa = tables.back()->isa;
  if (isa != nullptr) {
    for (const Kernels* table : tables) {
      if (table->isa == isa) chosen_isa = table->isa;
    }
  }
  const Kernels* chosen = nullptr;
  for (const Kernels* table : tables) {
    if (table->isa == chosen_isa && (chosen == nullptr || table->prefetch == prefetch)) chosen = table;
  }
  return *chosen;
}

const Kernels& active_kernels() {
  static const Kernels& chosen = choose_kernels(available_kernels(), std::getenv("SMOE_ISA"), preferred_prefetch());
  return chosen;
}

}  // namespace smoe::quant
