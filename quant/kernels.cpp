// The scalar kernel table and the lookup of the others.
#include "quant/kernels.h"

namespace smoe::quant {

const Kernels& scalar_kernels() {
  static const Kernels kernels{
      .isa = Isa::scalar,
      .quantize_q8a = quantize_row_q8a_ref,
      .quantize_q8k = quantize_row_q8k_ref,
      .dot_q8 = dot_q8_q8a_ref,
      .dot_q4 = dot_q4_q8a_ref,
      .dot_q4k = dot_q4k_q8k_ref,
      .dot_q6k = dot_q6k_q8k_ref,
      .dot_q3k = dot_q3k_q8k_ref,
      .dot_rows_f32 = dot_rows_f32_ref,
      .dot_rows_f16 = dot_rows_f16_ref,
      .dot_rows_bf16 = dot_rows_bf16_ref,
      .key_scores_f16 = key_scores_ref<uint16_t>,
      .value_sum_f16 = value_sum_ref<uint16_t>,
      .key_scores_i8 = key_scores_ref<int8_t>,
      .value_sum_i8 = value_sum_ref<int8_t>,
      .prefetch = Prefetch::hardware,
      .dot_q4k_x8 = dot_q4k_x8_q8k_ref,
      .deinterleave_q4k_x8_rows = deinterleave_q4k_x8_rows,
      .dot_q8_x8 = dot_q8_x8_q8a_ref,
      .deinterleave_q8_x8_rows = deinterleave_q8_x8_rows,
  };
  return kernels;
}

std::string kernels_name(const Kernels& kernels) {
  return std::string(isa_name(kernels.isa)) + (kernels.prefetch == Prefetch::software ? "+prefetch" : "");
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

Prefetch preferred_prefetch(const CpuFeatures& features) {
  // Zen 4 (the first AMD core with AVX-512) keeps up without the instructions; Zen 3 does not:
  // its one-thread decode reads a larger share of the bandwidth with them (docs/PERFORMANCE.md).
  return features.amd && features.avx512f ? Prefetch::hardware : Prefetch::software;
}

const Kernels* kernels_for(Isa isa, Prefetch prefetch) {
  switch (isa) {
    case Isa::scalar: return &scalar_kernels();
    case Isa::avx2: return avx2_kernels(prefetch);
    case Isa::avx2_vnni: return avx2_vnni_kernels(prefetch);
    case Isa::avx512: return avx512_kernels(prefetch);
    case Isa::avx512_vnni: return avx512_vnni_kernels(prefetch);
    case Isa::neon: return neon_kernels();
    case Isa::neon_dotprod: return neon_dotprod_kernels();
  }
  return nullptr;
}

}  // namespace smoe::quant
