// The scalar kernel table and the lookup of the others.
#include "quant/kernels.h"

#include <utility>

#include "quant/dequantize_bf16.h"
#include "quant/formats/untyped_kernels.h"

namespace smoe::quant {

namespace {

// The scalar references of a type's row decoders (dequantize_bf16.h), one function per type.
template <TensorType kType>
void to_bf16_ref(const void* src, uint16_t* dst, size_t n) {
  dequantize_row_bf16_ref(kType, src, dst, n);
}
template <size_t... kIds>
constexpr std::array<void (*)(const void*, uint16_t*, size_t), sizeof...(kIds)> bf16_references(
    std::index_sequence<kIds...>) {
  return {to_bf16_ref<static_cast<TensorType>(kIds)>...};
}

// Each kernel field of a type's row (TypeKernels), for the code that goes through all of them.
template <class Visit>
void for_each_kernel_field(Visit visit) {
  visit(&TypeKernels::dot);
  visit(&TypeKernels::group_dot);
  visit(&TypeKernels::group_tokens_dot);
  visit(&TypeKernels::deinterleave);
  visit(&TypeKernels::dot_rows);
  visit(&TypeKernels::to_f32);
  visit(&TypeKernels::to_bf16);
  visit(&TypeKernels::quantize_row);
}

// The scalar table's rows: each type's reference kernels. Every row type decodes by the type
// table's reference row conversion (to_f32) and that rounded to bf16 (to_bf16), and quantizes
// by its reference quantizer.
TypeRows scalar_rows() {
  TypeRows rows = rows_by_type<TypeKernels>({
      {TensorType::f32, {.dot_rows = dot_rows_kernel<dot_rows_f32_ref>}},
      {TensorType::f16, {.dot_rows = dot_rows_kernel<dot_rows_f16_ref>}},
      {TensorType::bf16, {.dot_rows = dot_rows_kernel<dot_rows_bf16_ref>}},
      {TensorType::q8, {.activations = ActivationBlocks::q8a, .dot = dot_kernel<dot_q8_q8a_ref>}},
      {TensorType::q4, {.activations = ActivationBlocks::q8a, .dot = dot_kernel<dot_q4_q8a_ref>}},
      {TensorType::q4k, {.activations = ActivationBlocks::q8k, .dot = dot_kernel<dot_q4k_q8k_ref>}},
      {TensorType::q6k, {.activations = ActivationBlocks::q8k, .dot = dot_kernel<dot_q6k_q8k_ref>}},
      {TensorType::q3k, {.activations = ActivationBlocks::q8k, .dot = dot_kernel<dot_q3k_q8k_ref>}},
      {TensorType::q4k_x8,
       {.activations = ActivationBlocks::q8k,
        .group_dot = group_dot_kernel<dot_q4k_x8_q8k_ref>,
        .deinterleave = deinterleave_kernel<deinterleave_q4k_x8_rows>}},
      {TensorType::q8_x8,
       {.activations = ActivationBlocks::q8a,
        .group_dot = group_dot_kernel<dot_q8_x8_q8a_ref>,
        .deinterleave = deinterleave_kernel<deinterleave_q8_x8_rows>}},
  });
  constexpr auto to_bf16 = bf16_references(std::make_index_sequence<kTensorTypeCount>{});
  for (size_t id = 0; id < kTensorTypeCount; ++id) {
    const TypeTraits& traits = type_traits(static_cast<TensorType>(id));
    if (traits.dequantize_row == nullptr) continue;  // u8, interleaved types (rows of row_type)
    rows[id].to_f32 = traits.dequantize_row;
    rows[id].to_bf16 = to_bf16[id];
    rows[id].quantize_row = traits.quantize_row;
  }
  return rows;
}

}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels kernels{
      .isa = Isa::scalar,
      .quantize_q8a = quantize_row_q8a_ref,
      .quantize_q8k = quantize_row_q8k_ref,
      .key_scores_f16 = key_scores_ref<uint16_t>,
      .value_sum_f16 = value_sum_ref<uint16_t>,
      .key_scores_i8 = key_scores_ref<int8_t>,
      .value_sum_i8 = value_sum_ref<int8_t>,
      .prefetch = Prefetch::hardware,
      .types = scalar_rows(),
  };
  return kernels;
}

TypeRows with_faster_rows(TypeRows rows, std::initializer_list<RowOfType<TypeKernels>> faster) {
  for (const RowOfType<TypeKernels>& entry : faster) {
    TypeKernels& row = rows.at(static_cast<size_t>(entry.type));
    for_each_kernel_field([&](auto field) {
      if (entry.row.*field != nullptr) row.*field = entry.row.*field;
    });
  }
  return rows;
}

Kernels with_reference_rows(Kernels table) {
  const Kernels& reference = scalar_kernels();
  for (size_t id = 0; id < kTensorTypeCount; ++id) {
    TypeKernels& row = table.types[id];
    const TypeKernels& reference_row = reference.types[id];
    row.activations = reference_row.activations;  // what the table's quantizers make for the row's dots
    for_each_kernel_field([&](auto field) {
      // group_tokens_dot may stay nullptr (group_dot per token); the scalar row has none.
      if (row.*field == nullptr) row.*field = reference_row.*field;
    });
  }
  return table;
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
