// Kernel tables and their one-time selection.
#include "quant/kernels.h"

#include <cstdlib>

namespace smoe::quant {

const Kernels& scalar_kernels() {
  static const Kernels kernels{"scalar",        quantize_row_q8a_ref, quantize_row_q8k_ref, dot_q8_q8a_ref,
                               dot_q4_q8a_ref,  dot_q4k_q8k_ref,      dot_q6k_q8k_ref,      dot_q3k_q8k_ref,
                               key_scores_ref<uint16_t>, value_sum_ref<uint16_t>, key_scores_ref<int8_t>, value_sum_ref<int8_t>};
  return kernels;
}

std::vector<const Kernels*> available_kernels() {
  std::vector<const Kernels*> tables = {&scalar_kernels()};
  if (const Kernels* avx2 = avx2_kernels()) tables.push_back(avx2);
  if (const Kernels* avx512 = avx512_kernels()) tables.push_back(avx512);
  if (const Kernels* vnni = avx512_vnni_kernels()) tables.push_back(vnni);
  if (const Kernels* neon = neon_kernels()) tables.push_back(neon);
  if (const Kernels* dotprod = neon_dotprod_kernels()) tables.push_back(dotprod);
  return tables;
}

#if !defined(__aarch64__)
const Kernels* neon_kernels() { return nullptr; }
const Kernels* neon_dotprod_kernels() { return nullptr; }
#endif

const Kernels& active_kernels() {
  static const Kernels& chosen = [&]() -> const Kernels& {
    const std::vector<const Kernels*> tables = available_kernels();
    if (const char* forced = std::getenv("SMOE_ISA")) {
      for (const Kernels* table : tables) {
        if (table->isa == forced) return *table;
      }
    }
    return *tables.back();
  }();
  return chosen;
}

}  // namespace smoe::quant
