// Prompt-time matrix products through oneDNN: weight rows decoded in chunks (to bf16 or f32),
// or bf16 rows used where they lie; and the choice of path (gemm()).
//
// Quantized weights (q8, q4, q4k, q6k, q3k) on x86 CPUs that have int8 prompt kernels
// (CpuPlan::int8_prompt: amx, or the level's avx512-vnni, avx2-vnni, avx2) go to the int8 path
// (gemm_int8.cpp: twice the multiplies per instruction of bf16 with AMX or VNNI, about twice f32
// sgemm's rate on plain AVX2). Elsewhere (the onednn prompt path, AMX-BF16 CPUs whose OS refuses
// the tile state), on CPUs with native bf16 they are decoded to bf16 and multiplied with
// bf16-rounded activations by oneDNN's matmul primitive: half the decoded bytes of f32 and, with
// AMX, about 4x the f32 sgemm rate (docs/PERFORMANCE.md). bf16 activations (8 significant
// bits) are finer than the 8-bit integer activations
// of the decode path and the int8 prompts. bf16 weights on those CPUs go to the same primitive
// straight from the mapped file (nothing to decode; the activations are rounded to bf16 as a
// bf16 model computes anyway). Everything else (f32 and f16 weights, CPUs without bf16) decodes
// to f32 (the plan's row decoder, TypeKernels::to_f32) and runs sgemm, so those exact weights keep exact products.
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <dnnl.hpp>
#include <vector>

#include "format/panels.h"
#include "ops/gemm.h"
#include "quant/dequantize_bf16.h"
#include "quant/formats/convert_row.h"
#include "quant/formats/half.h"
#include "quant/gemm_int8.h"
#include "quant/kernels.h"
#include "smoe/error.h"

namespace smoe::ops {
namespace {

constexpr size_t kChunkBytes = 32u << 20;

// oneDNN's OpenMP build uses omp_get_max_threads(): set it for this call only, so the host
// application's own setting (and other sessions') stays as it was.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : previous_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ScopedOmpThreads() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

bool uses_bf16(quant::TensorType type, const CpuPlan& plan) {
  return (quant::type_traits(type).is_quantized || type == quant::TensorType::bf16) && plan.onednn_bf16;
}

// Rows [first, first + count) of w decoded into out (count, in) by decode(piece, out, columns),
// the row decoder of w's row type (to_f32 or to_bf16 of the plan's table), split across the
// threads, each reading through its own RowReader.
template <class T>
void decode_rows(const format::TensorView& w, size_t first, size_t count, size_t in, const CpuContext& cpu, T* out,
                 void (*decode)(const void*, T*, size_t)) {
#pragma omp parallel num_threads(cpu.threads)
  {
    format::RowReader reader(w, *cpu.plan.kernels);
#pragma omp for schedule(static)
    for (size_t r = 0; r < count; ++r) {
      reader.for_each_piece(first + r, [&](const std::byte* piece, uint64_t column, uint64_t columns) {
        decode(piece, &out[r * in + column], columns);
      });
    }
  }
}

void gemm_f32(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu) {
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t chunk_rows = std::max<size_t>(1, std::min(rows, kChunkBytes / (in * sizeof(float))));
  std::vector<float> decoded(chunk_rows * in);  // (chunk_rows, in)
  const auto to_f32 = cpu.plan.kernels->for_type(quant::row_type(w.type)).to_f32;
  for (size_t first = 0; first < rows; first += chunk_rows) {
    const size_t count = std::min(chunk_rows, rows - first);
    decode_rows(w, first, count, in, cpu, decoded.data(), to_f32);
    // y[:, first:first+count] = x (n, in) @ decoded^T (in, count)
    const dnnl_status_t status =
        dnnl_sgemm('N', 'T', static_cast<dnnl_dim_t>(n_tokens), static_cast<dnnl_dim_t>(count),
                   static_cast<dnnl_dim_t>(in), 1.0f, x, static_cast<dnnl_dim_t>(in), decoded.data(),
                   static_cast<dnnl_dim_t>(in), 0.0f, y + first, static_cast<dnnl_dim_t>(rows));
    if (status != dnnl_success) throw Error(w.name, "oneDNN sgemm failed with status " + std::to_string(int(status)));
  }
}

void gemm_bf16(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu) {
  using dnnl::memory;
  const size_t rows = w.shape[0], in = w.shape[1];
  const size_t row_bytes = w.bytes / rows;
  // bf16 weights are multiplied where they lie, all rows in one product (the descriptor below
  // takes them as N contiguous rows of K); other types are decoded a chunk at a time.
  const bool in_place = w.type == quant::TensorType::bf16;
  if (in_place && (row_bytes != in * sizeof(uint16_t) || w.panel_columns != 0)) {
    throw Error(w.name, "bf16 rows of " + std::to_string(row_bytes) + " bytes for " + std::to_string(in) + " columns");
  }
  const size_t chunk_rows =
      in_place ? rows : std::max<size_t>(1, std::min(rows, kChunkBytes / (in * sizeof(uint16_t))));
  // Plain locals: the OpenMP loops below must see this call's buffers, not per-thread ones.
  std::vector<uint16_t> activations(n_tokens * in), decoded(in_place ? 0 : chunk_rows * in);
  const auto to_bf16 = cpu.plan.kernels->for_type(quant::row_type(w.type)).to_bf16;
#pragma omp parallel for num_threads(cpu.threads) schedule(static)
  for (size_t i = 0; i < n_tokens * in; ++i) activations[i] = quant::f32_to_bf16(x[i]);

  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto M = static_cast<memory::dim>(n_tokens), K = static_cast<memory::dim>(in);
  for (size_t first = 0; first < rows; first += chunk_rows) {
    const size_t count = std::min(chunk_rows, rows - first);
    const std::byte* chunk = w.data + first * row_bytes;  // bf16 in place only: contiguous rows
    if (!in_place) decode_rows(w, first, count, in, cpu, decoded.data(), to_bf16);
    const auto N = static_cast<memory::dim>(count);
    const memory::desc source({M, K}, memory::data_type::bf16, memory::format_tag::ab);
    const memory::desc weights({K, N}, memory::data_type::bf16, memory::format_tag::ba);  // N rows of K
    const memory::desc destination({M, N}, memory::data_type::f32, memory::dims{static_cast<memory::dim>(rows), 1});
    // oneDNN caches primitives by descriptor: repeated shapes (the same expert sizes) reuse them.
    const dnnl::matmul::primitive_desc descriptor(dnnl::matmul::desc(source, weights, destination), engine);
    const dnnl::matmul product(descriptor);
    memory source_memory(source, engine, activations.data()),
        weights_memory(weights, engine, in_place ? const_cast<std::byte*>(chunk) : static_cast<void*>(decoded.data()));
    memory destination_memory(destination, engine, y + first);
    product.execute(stream, {{DNNL_ARG_SRC, source_memory}, {DNNL_ARG_WEIGHTS, weights_memory}, {DNNL_ARG_DST, destination_memory}});
    stream.wait();
  }
}

}  // namespace

void sgemm_nt(const float* a, const float* b, size_t m, size_t n, size_t k, float alpha, float* c, int threads) {
  const ScopedOmpThreads scoped(threads);
  const auto M = static_cast<dnnl_dim_t>(m), N = static_cast<dnnl_dim_t>(n), K = static_cast<dnnl_dim_t>(k);
  if (dnnl_sgemm('N', 'T', M, N, K, alpha, a, K, b, K, 0.0f, c, N) != dnnl_success) {
    throw Error("attention", "oneDNN sgemm failed");
  }
}

void sgemm_nn(const float* a, const float* b, size_t m, size_t n, size_t k, float* c, int threads) {
  const ScopedOmpThreads scoped(threads);
  const auto M = static_cast<dnnl_dim_t>(m), N = static_cast<dnnl_dim_t>(n), K = static_cast<dnnl_dim_t>(k);
  if (dnnl_sgemm('N', 'N', M, N, K, 1.0f, a, K, b, N, 0.0f, c, N) != dnnl_success) {
    throw Error("attention", "oneDNN sgemm failed");
  }
}

bool gemm_uses_int8(quant::TensorType type, const CpuPlan& plan) {
  return quant::type_traits(type).is_quantized && plan.int8_prompt != nullptr;
}

size_t gemm_min_tokens(quant::TensorType type, const CpuPlan& plan) {
  return gemm_uses_int8(type, plan) ? int8_gemm_min_tokens(type, *plan.int8_prompt) : kGemmMinTokens;
}

void gemm(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu) {
  const ScopedOmpThreads scoped(cpu.threads);
  try {
    if (gemm_uses_int8(w.type, cpu.plan)) {
      gemm_int8(w, x, n_tokens, y, cpu);
    } else if (uses_bf16(w.type, cpu.plan)) {
      gemm_bf16(w, x, n_tokens, y, cpu);
    } else {
      gemm_f32(w, x, n_tokens, y, cpu);
    }
  } catch (const dnnl::error& error) {
    throw Error(w.name, std::string("oneDNN matmul failed: ") + error.what());
  }
}

}  // namespace smoe::ops
