// Row-parallel matrix products for small batches (decoding), by the CPU plan's dot kernels,
// one batch at a time or several independent ones in one parallel region (matmul_batches);
// larger batches go to gemm().
#include "ops/matmul.h"

#include <omp.h>

#include <algorithm>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "format/panels.h"
#include "ops/gemm.h"
#include "ops/two_ended_queue.h"
#include "quant/formats/convert_row.h"
#include "quant/kernels.h"
#include "quant/formats/tensor_type.h"
#include "smoe/error.h"

namespace smoe::ops {

namespace {

// A small batch ready to multiply: its activations quantized once, then products(output,
// first, count) writes rows [first, first + count) of that output for every token, for any
// range of whole row groups, in any order and on any thread.
struct PreparedBatch {
  std::function<void(const MatmulOutput& output, size_t first, size_t count)> products;
  size_t row_group = 1;  // ranges start at multiples of this (interleaved rows come in groups)
  bool paneled = false;  // some matrix is stored in column panels (read best in long shares)
};

// Calls group_products(output, first, count) for every group of `group` consecutive rows (fewer
// at a matrix's end) of every output's matrix, the groups of all of them split across the
// threads in one parallel loop (one fork and join).
template <class GroupProducts>
void for_each_row_group(std::span<const MatmulOutput> outputs, size_t group, int threads,
                        const GroupProducts& group_products) {
  std::vector<size_t> first_group(outputs.size() + 1, 0);
  for (size_t i = 0; i < outputs.size(); ++i) {
    first_group[i + 1] = first_group[i] + (outputs[i].w->shape[0] + group - 1) / group;
  }
  const size_t total_groups = first_group.back();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t g = 0; g < total_groups; ++g) {
    size_t m = 0;
    while (g >= first_group[m + 1]) ++m;  // a handful of matrices
    const size_t first = (g - first_group[m]) * group;
    group_products(outputs[m], first, std::min(group, outputs[m].w->shape[0] - first));
  }
}

// The shortest share of a paneled matrix's rows a thread reads (a 258 KB stream of a q4k panel
// of 3584 columns).
constexpr size_t kMinimumPanelShare = 128;

// For matrices stored in column panels: calls group_products(output, first, count) once per
// thread and output with that thread's share of the output's rows (an equal share of each
// matrix, so matrices of different heights still balance), which the caller reads panel by
// panel: each panel's part of the share is one contiguous stream, read against that panel's
// activations only. The longest streams measured best: a thread's whole share read faster than
// groups of 128 or 512 rows (docs/PERFORMANCE-HISTORY.md, column panels). Shares are at
// least 128 rows (a 258 KB stream of a q4k panel of 3584 columns): a small matrix goes to
// fewer threads.
template <class GroupProducts>
void for_each_thread_share(std::span<const MatmulOutput> outputs, size_t row_multiple, int threads,
                           const GroupProducts& group_products) {
#pragma omp parallel num_threads(threads)
  {
    const auto thread = static_cast<size_t>(omp_get_thread_num()), count = static_cast<size_t>(omp_get_num_threads());
    for (const MatmulOutput& output : outputs) {
      const size_t rows = output.w->shape[0];
      size_t share = std::max(kMinimumPanelShare, (rows + count - 1) / count);
      share = (share + row_multiple - 1) / row_multiple * row_multiple;  // whole groups of interleaved rows
      const size_t first = thread * share;
      if (first < rows) group_products(output, first, std::min(share, rows - first));
    }
  }
}

// Quantized weights: the activations are quantized to 8 bits once per call (blocks of 32 for
// q8/q4, of 256 for the super-block types q4k/q6k/q3k), then each row is an integer dot
// product with each token, by the CPU plan's kernels (panel by panel, summed, for
// matrices stored in column panels). `dot(rows, activations, columns, out)` multiplies
// kRowsPerCall rows (a row, or a group of interleaved ones) into out[0..kRowsPerCall).
// `tokens_dot(rows, activations, tokens, columns, out)`, where given (has_tokens_dot), multiplies
// the rows by every token's activations in one call (out[kRowsPerCall t + i]).
template <size_t kRowsPerCall, class Activation, class Dot, class TokensDot = std::nullptr_t>
PreparedBatch prepare_quantized(std::span<const MatmulOutput> outputs, Dot dot,
                                void (*quantize)(const float*, Activation*, size_t), const float* x, size_t n_tokens,
                                bool has_tokens_dot = false, TokensDot tokens_dot = nullptr) {
  const size_t in = outputs.front().w->shape[1], blocks = in / Activation::kElements;
  std::vector<Activation> activations(n_tokens * blocks);
  for (size_t t = 0; t < n_tokens; ++t) quantize(x + t * in, &activations[t * blocks], in);
  const bool paneled = std::any_of(outputs.begin(), outputs.end(), [](auto& o) { return o.w->panel_columns != 0; });
  const bool together = has_tokens_dot && n_tokens > 1;  // every token's sums of a row group in one call
  auto products = [activations = std::move(activations), blocks, n_tokens, together, dot, tokens_dot](
                      const MatmulOutput& output, size_t first, size_t count) {
    const format::TensorView& w = *output.w;
    const size_t rows = w.shape[0], width = format::panel_width(w), panels = format::panel_count(w);
    float one_token_sums[kRowsPerCall];
    // Several tokens at once: their sums and activation pointers, in buffers kept per thread
    // (this runs per row group: no allocation on the decoding path).
    thread_local std::vector<float> token_sums;
    thread_local std::vector<const Activation*> token_activations;
    if (together) {
      token_sums.resize(kRowsPerCall * n_tokens);
      token_activations.resize(n_tokens);
    }
    for (size_t p = 0; p < panels; ++p) {
      const Activation* panel_activations = &activations[p * (width / Activation::kElements)];
      if (together) {
        for (size_t t = 0; t < n_tokens; ++t) token_activations[t] = panel_activations + t * blocks;
      }
      for (size_t r = first; r < first + count; r += kRowsPerCall) {
        const std::byte* stored = format::panel_row(w, p, r);
        if constexpr (!std::is_same_v<TokensDot, std::nullptr_t>) {
          if (together) tokens_dot(stored, token_activations.data(), n_tokens, width, token_sums.data());
        }
        for (size_t t = 0; t < n_tokens; ++t) {
          const float* row_sums = one_token_sums;
          if (together) {
            row_sums = &token_sums[t * kRowsPerCall];
          } else {
            dot(stored, panel_activations + t * blocks, width, one_token_sums);
          }
          float* y = output.y + t * rows + r;
          for (size_t i = 0; i < kRowsPerCall; ++i) y[i] = p == 0 ? row_sums[i] : y[i] + row_sums[i];
        }
      }
    }
  };
  return {std::move(products), kRowsPerCall, paneled};
}

// Unquantized weights (f32, f16, bf16): groups of rows against each token's f32 activations
// (the kernels take long rows several at a time, sharing the activations' loads).
PreparedBatch prepare_float(std::span<const MatmulOutput> outputs, const quant::TypeKernels& kernels,
                            size_t element_bytes, const float* x, size_t n_tokens) {
  constexpr size_t kRowGroup = 16;
  const size_t in = outputs.front().w->shape[1];
  const auto dot_rows = kernels.dot_rows;
  auto products = [=](const MatmulOutput& output, size_t first, size_t count) {
    const size_t rows = output.w->shape[0], stride = output.w->bytes / rows / element_bytes;
    const std::byte* w = output.w->data + first * stride * element_bytes;
    float sums[kRowGroup];
    // A range of several groups, a group at a time (the kernel's largest call).
    for (size_t group = first; group < first + count; group += kRowGroup) {
      const size_t group_rows = std::min(kRowGroup, first + count - group);
      const std::byte* group_w = w + (group - first) * stride * element_bytes;
      for (size_t t = 0; t < n_tokens; ++t) {
        dot_rows(group_w, stride, group_rows, x + t * in, in, sums);
        for (size_t r = 0; r < group_rows; ++r) output.y[t * rows + group + r] = sums[r];
      }
    }
  };
  return {std::move(products), kRowGroup, false};
}

// Quantized weights against activation blocks of type Activation (the row's activations), made
// by `quantize`: a row per call of the row's dot, or a group of interleaved rows (block_q4k_x8.h,
// block_q8_x8.h) per call of its group_dot; matrices of those types have whole groups (the
// container reader checks).
template <class Activation>
PreparedBatch prepare_blocks(std::span<const MatmulOutput> outputs, const quant::TypeKernels& kernels, size_t row_group,
                             void (*quantize)(const float*, Activation*, size_t), const float* x, size_t n_tokens) {
  if (row_group == 1) {
    const auto dot = kernels.dot;
    return prepare_quantized<1>(
        outputs, [dot](const std::byte* row, const Activation* a, size_t n, float* out) { *out = dot(row, a, n); },
        quantize, x, n_tokens);
  }
  constexpr size_t kGroup = quant::BlockQ4Kx8::kRows;
  static_assert(quant::BlockQ8x8::kRows == kGroup, "one group size for the interleaved types");
  const auto group_dot = kernels.group_dot;
  const auto group_tokens_dot = kernels.group_tokens_dot;
  return prepare_quantized<kGroup>(
      outputs,
      [group_dot](const std::byte* group, const Activation* a, size_t n, float* out) { group_dot(group, a, n, out); },
      quantize, x, n_tokens, group_tokens_dot != nullptr,
      [group_tokens_dot](const std::byte* group, const Activation* const* a, size_t tokens, size_t n, float* out) {
        // The kernel reads the pointers as the Activation pointers they are.
        group_tokens_dot(group, reinterpret_cast<const void* const*>(a), tokens, n, out);
      });
}

// Small batches of matrices of one type and width, by the row of that type in the CPU plan's
// table (looked up once per call, not per row).
PreparedBatch prepare_small_batch(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens,
                                  const CpuContext& cpu) {
  const quant::Kernels& kernels = *cpu.plan.kernels;
  const quant::TensorType type = outputs.front().w->type;
  const quant::TypeTraits& traits = quant::type_traits(type);
  // The container admits column panels only for the block-quantized types (their kernels below).
  if (outputs.front().w->panel_columns != 0 && !traits.is_quantized) {
    throw Error(outputs.front().w->name,
                "matmul: column panels of " + std::string(quant::type_name(type)) + " weights");
  }
  const quant::TypeKernels& row = kernels.for_type(type);
  const bool has_kernel = row.activations == quant::ActivationBlocks::none ? row.dot_rows != nullptr
                          : traits.row_group == 1
                              ? row.dot != nullptr
                              : traits.row_group == quant::BlockQ4Kx8::kRows && row.group_dot != nullptr;
  if (!has_kernel) {
    throw Error(outputs.front().w->name,
                "matmul: no kernel for weights of type " + std::string(quant::type_name(type)));
  }
  switch (row.activations) {
    case quant::ActivationBlocks::q8a:
      return prepare_blocks(outputs, row, traits.row_group, kernels.quantize_q8a, x, n_tokens);
    case quant::ActivationBlocks::q8k:
      return prepare_blocks(outputs, row, traits.row_group, kernels.quantize_q8k, x, n_tokens);
    case quant::ActivationBlocks::none:
      break;
  }
  return prepare_float(outputs, row, traits.block_bytes, x, n_tokens);
}

void matmul_small_batch(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens, const CpuContext& cpu) {
  const PreparedBatch batch = prepare_small_batch(outputs, x, n_tokens, cpu);
  if (batch.paneled) return for_each_thread_share(outputs, batch.row_group, cpu.threads, batch.products);
  for_each_row_group(outputs, batch.row_group, cpu.threads, batch.products);
}

// Whether matmul_shared_input takes the small-batch path: the dot kernels (decoding, or a
// batch below the type's gemm crossover) for matrices of one type and width.
bool is_small_batch(std::span<const MatmulOutput> outputs, size_t n_tokens, const CpuContext& cpu) {
  bool small =
      !outputs.empty() && (cpu.rows_one_by_one || n_tokens < gemm_min_tokens(outputs.front().w->type, cpu.plan));
  for (const MatmulOutput& output : outputs) {
    small = small && output.w->shape.size() == 2 && output.w->type == outputs.front().w->type &&
            output.w->shape[1] == outputs.front().w->shape[1];
  }
  return small;
}

}  // namespace

void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, size_t n_tokens, const CpuContext& cpu) {
  if (is_small_batch(outputs, n_tokens, cpu)) return matmul_small_batch(outputs, x, n_tokens, cpu);
  // Prompts on the int8 path: the input quantized once for all the matrices.
  const bool int8 = !cpu.rows_one_by_one && std::all_of(outputs.begin(), outputs.end(), [&](const MatmulOutput& output) {
    return output.w->shape.size() == 2 && gemm_uses_int8(output.w->type, cpu.plan) &&
           n_tokens >= gemm_min_tokens(output.w->type, cpu.plan);
  });
  if (int8) return gemm_int8_shared_input(outputs, x, n_tokens, cpu);
  for (const MatmulOutput& output : outputs) matmul(*output.w, x, n_tokens, output.y, cpu);
}

void matmul_batches(std::span<const MatmulBatch> batches, const CpuContext& cpu) {
  // Batches past the dot kernels' range (prompts) go the way matmul_shared_input sends them.
  std::vector<const MatmulBatch*> small;
  for (const MatmulBatch& batch : batches) {
    if (is_small_batch(batch.outputs, batch.n_tokens, cpu)) {
      small.push_back(&batch);
    } else {
      matmul_shared_input(batch.outputs, batch.x, batch.n_tokens, cpu);
    }
  }
  // Most tokens first: the front of the list is bound by the kernels' arithmetic, the back by
  // reading the weights.
  std::stable_sort(small.begin(), small.end(), [](auto* a, auto* b) { return a->n_tokens > b->n_tokens; });
  std::vector<PreparedBatch> prepared;
  prepared.reserve(small.size());
  for (const MatmulBatch* batch : small) {
    prepared.push_back(prepare_small_batch(batch->outputs, batch->x, batch->n_tokens, cpu));
  }

  // Each matrix in ranges of about a quarter of a thread's share (long enough streams for the
  // prefetchers, short enough that the last ones even out the threads' finishing times).
  struct Unit {
    uint32_t batch, output;
    size_t first, count;
  };
  const size_t threads = static_cast<size_t>(std::max(cpu.threads, 1));
  std::vector<Unit> units;
  for (size_t b = 0; b < small.size(); ++b) {
    const size_t group = prepared[b].row_group;
    for (size_t o = 0; o < small[b]->outputs.size(); ++o) {
      const size_t rows = small[b]->outputs[o].w->shape[0];
      size_t range = (rows + 4 * threads - 1) / (4 * threads);
      // Column panels are read panel by panel within a range: at least for_each_thread_share's
      // shortest share per stream.
      if (prepared[b].paneled) range = std::max(range, kMinimumPanelShare);
      range = std::max(group, (range + group - 1) / group * group);
      for (size_t first = 0; first < rows; first += range) {
        units.push_back({uint32_t(b), uint32_t(o), first, std::min(range, rows - first)});
      }
    }
  }
  const auto run = [&](const Unit& unit) {
    prepared[unit.batch].products(small[unit.batch]->outputs[unit.output], unit.first, unit.count);
  };
  if (threads == 1 || units.size() < 2) {
    for (const Unit& unit : units) run(unit);
    return;
  }
  // Threads take units from both ends: while some multiply the batches with many tokens
  // (compute-bound), the others stream the weights of those with few (memory-bound), instead
  // of all threads being bound by the same one at a time.
  TwoEndedQueue queue(units.size());
#pragma omp parallel num_threads(int(threads))
  {
    const bool from_front = omp_get_thread_num() % 2 == 0;
    size_t unit = 0;
    while (queue.claim(from_front, unit)) run(units[unit]);
  }
}

void matmul(const format::TensorView& w, const float* x, size_t n_tokens, float* y, const CpuContext& cpu) {
  if (w.shape.size() != 2) throw Error(w.name, "matmul needs a matrix");
  if (!cpu.rows_one_by_one && n_tokens >= gemm_min_tokens(w.type, cpu.plan)) return gemm(w, x, n_tokens, y, cpu);
  const MatmulOutput output{&w, y};
  matmul_small_batch({&output, 1}, x, n_tokens, cpu);
}

void read_row(const format::TensorView& w, size_t row, float* out) {
  const size_t rows = w.shape[0];
  if (row >= rows) throw Error(w.name, "row " + std::to_string(row) + " out of range");
  format::for_each_row_piece(w, row, [&](const std::byte* piece, uint64_t first, uint64_t columns) {
    quant::dequantize_row(quant::row_type(w.type), piece, out + first, columns);
  });
}

}  // namespace smoe::ops
