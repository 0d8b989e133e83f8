// Google Benchmark of the kernels, for every kernel table this machine can run (scalar,
// avx2, avx512, avx512-vnni, neon, ...):
//   dot/<type>/<isa>/<n>        one weight row x 8-bit activations (f32 ones for the f32, f16 and
//                               bf16 weights), in cache: the compute bound
//                               of decoding (weight GB/s, and GFLOP/s at 2 flops per weight)
//   dot/<q4k_x8|q8_x8>/<isa>/<n>  eight interleaved q4k / q8 rows (block_q4k_x8.h, block_q8_x8.h)
//                               at once, in cache: the same bytes as eight dot/q4k or dot/q8 rows,
//                               compare their GB/s
//   stream/<q4k|q4k_x8>/<isa>   1 GiB of q4k rows of 4096 (more than any cache), plain or
//                               interleaved by eight, multiplied in turn by one thread: decoding's
//                               one-core rate from DRAM without ops::matmul around it
//   quantize/<q8a|q8k>/<isa>    the activation quantizers (input GB/s)
//   attention/<keys|values>/<f16|i8>/<isa>[/dram]
//                               4 query heads against 4096 cached positions of one KV head,
//                               in cache, or from DRAM as at depth (compare with the matvecs)
//   matvec/<type>/threads:<T>   (q4k_x8, q8_x8 too) a 14336 x 4096 matrix from DRAM (a set of matrices larger than
//                               any cache, used in turn) through ops::matmul, as decoding runs it,
//                               with the table SMOE_ISA selects: compare with smoe-bench's
//                               measured read bandwidth.
//   gemm-int8/<isa>/<block>     an int8 prompt kernel alone (quant/gemm_int8.h: amx, avx512-vnni,
//                               avx2-vnni, avx2, or the scalar reference where none runs): 48 rows x
//                               4096 columns x 128 tokens, in cache (GFLOP/s, 2 per multiply-add)
//   int8-rows/<type>/<build>    weight rows brought to int8 for those kernels (row_as_int8: avx512,
//                               avx2, or "ref", decode + requantize), 64 rows of 4096 in cache
//                               (input GB/s, and weights per second)
//   gemm/<type>                 a prompt product as the model runs it: ops::gemm of a 14336 x 4096
//                               matrix with 128 tokens (de-interleave, decode, requantize or
//                               convert, multiply; q4k_x8 and q8_x8 too),
//                               on the path this CPU takes (the label; SMOE_PROMPT=bf16 for oneDNN's)
//   gemm-down/<type>            the same for a 4096 x 14336 matrix (w2's shape: 1.8 MB of int8
//                               activations, beside the weights, where L2 is 1-2 MB)
// Filter with --benchmark_filter, e.g. 'dot/q4k' or 'matvec'.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "format/container.h"
#include "ops/gemm.h"
#include "ops/matmul.h"
#include "quant/formats/block_q4k_x8.h"
#include "quant/formats/block_q8_x8.h"
#include "quant/formats/interleave.h"
#include "quant/formats/block_q8a.h"
#include "quant/formats/convert_row.h"
#include "quant/gemm_int8.h"
#include "quant/kernels.h"
#include "quant/formats/tensor_type.h"
#include "util/huge_pages.h"

namespace {

using namespace smoe::quant;

std::vector<float> random_row(size_t n, uint32_t seed = 42) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> row(n);
  for (float& value : row) value = normal(generator);
  return row;
}

// One quantized row of `type` (n weights), as bytes.
std::vector<std::byte> quantized_row(TensorType type, size_t n) {
  const std::vector<float> row = random_row(n, 7);
  std::vector<std::byte> bytes(*row_bytes(type, n));
  quantize_row(type, row.data(), bytes.data(), n);
  return bytes;
}

// A dot kernel of the table, called on raw bytes with activations of the matching kind.
struct DotCase {
  TensorType type;
  bool super_blocks;  // activations in 256-blocks (BlockQ8K) rather than 32-blocks (BlockQ8A)
};

float call_dot(const TypeKernels& row, const std::byte* w, const void* a, size_t n) {
  if (row.dot != nullptr) return row.dot(w, a, n);
  // Unquantized weights multiply the f32 activations themselves.
  float y = 0.0f;
  row.dot_rows(w, n, 1, static_cast<const float*>(a), n, &y);
  return y;
}

// A copy of `bytes` at `offset` into a 4 KiB page. Every dot benchmark reads its weights from
// the start of a page (as an expert's first row lies in the file) and its activations from 1 KiB
// into one: from wherever the heap put them, the same kernel measured up to 1.8x apart between
// two runs (blocks of 20, 110 or 210 bytes straddle cache lines differently at each offset),
// more than the kernels differ. (Both at the start of their pages measured slower than any
// other pair of offsets tried.)
class PageAlignedCopy {
 public:
  PageAlignedCopy(const void* bytes, size_t size, size_t offset)
      : data_(static_cast<std::byte*>(std::aligned_alloc(kPage, (offset + size + kPage - 1) / kPage * kPage))),
        offset_(offset) {
    if (data_ == nullptr) throw std::bad_alloc();
    std::memcpy(data_.get() + offset, bytes, size);
  }
  const std::byte* data() const { return data_.get() + offset_; }

 private:
  static constexpr size_t kPage = 4096;
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t offset_;
};

void dot_benchmark(benchmark::State& state, const Kernels* kernels, DotCase c, size_t n) {
  const std::vector<std::byte> weight_row = quantized_row(c.type, n);
  const std::vector<float> x = random_row(n, 3);
  std::vector<BlockQ8A> a32(n / 32);
  std::vector<BlockQ8K> a256(n / 256);
  kernels->quantize_q8a(x.data(), a32.data(), n);
  kernels->quantize_q8k(x.data(), a256.data(), n);
  const PageAlignedCopy weights(weight_row.data(), weight_row.size(), 0);
  constexpr size_t kActivationOffset = 1024;
  const PageAlignedCopy activations =
      !type_traits(c.type).is_quantized ? PageAlignedCopy(x.data(), x.size() * sizeof(float), kActivationOffset)
      : c.super_blocks ? PageAlignedCopy(a256.data(), a256.size() * sizeof(BlockQ8K), kActivationOffset)
                       : PageAlignedCopy(a32.data(), a32.size() * sizeof(BlockQ8A), kActivationOffset);
  const TypeKernels& row = kernels->for_type(c.type);
  for (auto _ : state) {
    benchmark::DoNotOptimize(call_dot(row, weights.data(), activations.data(), n));
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(weight_row.size()));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(n) * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// Eight q4k rows of n (distinct seeds) and the activations, as the q4k_x8 benchmarks use them.
struct Q4kRows {
  std::vector<BlockQ4K> rows;  // 8 x n / 256
  std::vector<BlockQ8K> activations;
};
Q4kRows q4k_rows(const Kernels& kernels, size_t n) {
  Q4kRows out{std::vector<BlockQ4K>(8 * n / 256), std::vector<BlockQ8K>(n / 256)};
  for (size_t r = 0; r < 8; ++r) {
    const std::vector<float> row = random_row(n, uint32_t(11 + r));
    quantize_row(TensorType::q4k, row.data(), out.rows.data() + r * n / 256, n);
  }
  const std::vector<float> x = random_row(n, 3);
  kernels.quantize_q8k(x.data(), out.activations.data(), n);
  return out;
}
void interleave(const BlockQ4K* rows, size_t n, BlockQ4Kx8* out) {
  const BlockQ4K* pointers[8];
  for (size_t r = 0; r < 8; ++r) pointers[r] = rows + r * n / 256;
  interleave_q4k_x8(pointers, out, n);
}

// Eight rows of an interleaved type (q4k_x8, q8_x8) at once, in cache, against `tokens`
// activation rows (more than one: the kernel several sequences decoded together use).
void dot_x8_benchmark(benchmark::State& state, const Kernels* kernels, TensorType type, size_t n, size_t tokens) {
  const TensorType row = row_type(type);
  const bool super_blocks = row == TensorType::q4k;
  std::vector<std::vector<std::byte>> rows;
  const std::byte* pointers[8];
  for (size_t r = 0; r < 8; ++r) {
    const std::vector<float> values = random_row(n, uint32_t(11 + r));
    rows.emplace_back(*row_bytes(row, n));
    quantize_row(row, values.data(), rows.back().data(), n);
    pointers[r] = rows.back().data();
  }
  std::vector<std::byte> blocks(8 * rows.front().size());
  interleave_rows(type, pointers, blocks.data(), n);
  std::vector<BlockQ8A> a32(tokens * n / 32);
  std::vector<BlockQ8K> a256(tokens * n / 256);
  for (size_t t = 0; t < tokens; ++t) {
    const std::vector<float> x = random_row(n, uint32_t(3 + t));
    if (super_blocks) {
      kernels->quantize_q8k(x.data(), a256.data() + t * n / 256, n);
    } else {
      kernels->quantize_q8a(x.data(), a32.data() + t * n / 32, n);
    }
  }
  const size_t token_bytes = super_blocks ? n / 256 * sizeof(BlockQ8K) : n / 32 * sizeof(BlockQ8A);
  const PageAlignedCopy weights(blocks.data(), blocks.size(), 0);
  const PageAlignedCopy activations(super_blocks ? static_cast<const void*>(a256.data()) : a32.data(),
                                    tokens * token_bytes, 1024);
  std::vector<const void*> token_activations(tokens);
  for (size_t t = 0; t < tokens; ++t) {
    token_activations[t] = static_cast<const std::byte*>(activations.data()) + t * token_bytes;
  }
  std::vector<float> out(8 * tokens);
  const auto& row_kernels = kernels->for_type(super_blocks ? TensorType::q4k_x8 : TensorType::q8_x8);
  if (tokens > 1 && row_kernels.group_tokens_dot == nullptr) {
    state.SkipWithError("no kernel for several tokens");
    return;
  }
  for (auto _ : state) {
    if (tokens == 1) {
      row_kernels.group_dot(weights.data(), activations.data(), n, out.data());
    } else {
      row_kernels.group_tokens_dot(weights.data(), token_activations.data(), tokens, n, out.data());
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(blocks.size()));
  state.counters["GFLOP/s"] = benchmark::Counter(16.0 * double(n) * double(tokens) * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// 1 GiB of q4k rows from memory (plain or interleaved), against `tokens` activation rows
// (interleaved only): whether the kernel's arithmetic for several tokens hides behind the reads.
void stream_benchmark(benchmark::State& state, const Kernels* kernels, bool interleaved, size_t tokens) {
  constexpr size_t kColumns = 4096, kBlocks = kColumns / 256, kBytes = size_t{1} << 30;
  constexpr size_t kGroups = kBytes / (8 * kBlocks * sizeof(BlockQ4K));  // of 8 rows
  const Q4kRows q = q4k_rows(*kernels, kColumns);
  std::vector<BlockQ4K, smoe::HugePageAllocator<BlockQ4K>> plain;
  std::vector<BlockQ4Kx8, smoe::HugePageAllocator<BlockQ4Kx8>> blocks;
  std::vector<BlockQ4Kx8> group(kBlocks);
  if (interleaved) {
    interleave(q.rows.data(), kColumns, group.data());
    blocks.resize(kGroups * kBlocks);
    for (size_t g = 0; g < kGroups; ++g) std::memcpy(&blocks[g * kBlocks], group.data(), sizeof(BlockQ4Kx8) * kBlocks);
  } else {
    plain.resize(kGroups * 8 * kBlocks);
    for (size_t g = 0; g < kGroups; ++g) std::memcpy(&plain[g * 8 * kBlocks], q.rows.data(), sizeof(BlockQ4K) * 8 * kBlocks);
  }
  std::vector<float> out(8 * tokens);
  const auto group_dot = kernels->for_type(TensorType::q4k_x8).group_dot;
  const auto group_tokens_dot = kernels->for_type(TensorType::q4k_x8).group_tokens_dot;
  const auto dot = kernels->for_type(TensorType::q4k).dot;
  if (tokens > 1 && group_tokens_dot == nullptr) {
    state.SkipWithError("no kernel for several tokens");
    return;
  }
  std::vector<BlockQ8K> token_blocks(tokens * kBlocks);  // the same activations for every token
  std::vector<const void*> token_activations(tokens);
  for (size_t t = 0; t < tokens; ++t) {
    std::memcpy(&token_blocks[t * kBlocks], q.activations.data(), sizeof(BlockQ8K) * kBlocks);
    token_activations[t] = &token_blocks[t * kBlocks];
  }
  for (auto _ : state) {
    for (size_t g = 0; g < kGroups; ++g) {
      if (interleaved && tokens > 1) {
        group_tokens_dot(&blocks[g * kBlocks], token_activations.data(), tokens, kColumns, out.data());
      } else if (interleaved) {
        group_dot(&blocks[g * kBlocks], q.activations.data(), kColumns, out.data());
      } else {
        for (size_t r = 0; r < 8; ++r) out[r] = dot(&plain[(g * 8 + r) * kBlocks], q.activations.data(), kColumns);
      }
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kGroups * 8 * kBlocks * sizeof(BlockQ4K)));
}

void quantize_benchmark(benchmark::State& state, const Kernels* kernels, bool super_blocks) {
  const size_t n = 14336;
  const std::vector<float> x = random_row(n);
  std::vector<BlockQ8A> a32(n / 32);
  std::vector<BlockQ8K> a256(n / 256);
  for (auto _ : state) {
    if (super_blocks) {
      kernels->quantize_q8k(x.data(), a256.data(), n);
    } else {
      kernels->quantize_q8a(x.data(), a32.data(), n);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * sizeof(float)));
}

// The scores of the keys, or the weighted sum of the values, of 4 query heads against 4096
// cached positions of one KV head (head_dim 128), as a Mixtral decode step at depth 4096 runs it. In cache: one head's rows, over and over. From DRAM: a
// set of heads larger than any cache (512 MiB, in 2 MiB pages as the KV cache is), one head a
// call in turn, so the rows come from memory as they do at depth.
void attention_benchmark(benchmark::State& state, const Kernels* kernels, bool int8, bool values, bool dram) {
  constexpr size_t kPositions = 4096, kHeadDim = 128, kGroup = 4;
  const size_t row_bytes = kHeadDim * (int8 ? 1 : 2), head_bytes = kPositions * row_bytes;
  const size_t heads = dram ? (size_t{512} << 20) / head_bytes : 1;
  const std::vector<float> q = random_row(kGroup * kHeadDim);
  const std::vector<float> weights = random_row(kGroup * kPositions, 9);
  smoe::HugePageVector<uint16_t> rows16(int8 ? 0 : heads * kPositions * kHeadDim, 0x2c00);  // f16 0.0625
  smoe::HugePageVector<int8_t> rows8(int8 ? heads * kPositions * kHeadDim : 0, 17);
  const std::vector<float> scales(kPositions, 0.01f);
  std::vector<float> scores(kGroup * kPositions), out(kGroup * kHeadDim);
  size_t head = 0;
  for (auto _ : state) {
    const size_t first = head * kPositions * kHeadDim;
    head = (head + 1) % heads;
    if (values && int8) {
      kernels->value_sum_i8(weights.data(), kPositions, &rows8[first], scales.data(), kPositions, kGroup, kHeadDim, out.data());
    } else if (values) {
      kernels->value_sum_f16(weights.data(), kPositions, &rows16[first], nullptr, kPositions, kGroup, kHeadDim, out.data());
    } else if (int8) {
      kernels->key_scores_i8(&rows8[first], scales.data(), kPositions, q.data(), kGroup, kHeadDim, scores.data(), kPositions);
    } else {
      kernels->key_scores_f16(&rows16[first], nullptr, kPositions, q.data(), kGroup, kHeadDim, scores.data(), kPositions);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(head_bytes));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kPositions * kHeadDim * kGroup * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// Matrices of one expert projection's shape, enough of them (>= 512 MiB) that every call reads
// its weights from DRAM, as a decode step does; in 2 MiB pages, as the runtime maps weights.
struct MatrixSet {
  static constexpr size_t kRows = 14336, kColumns = 4096, kMinimumBytes = size_t{512} << 20;
  smoe::HugePageVector<std::byte> storage;
  std::vector<smoe::format::TensorView> views;

  explicit MatrixSet(TensorType type) {
    // One row repeated; for q4k_x8 and q8_x8 one row eight times, interleaved, repeated.
    std::vector<std::byte> row = quantized_row(row_type(type), kColumns);
    if (type_traits(type).row_group > 1) {
      std::vector<std::byte> group(8 * row.size());
      const std::byte* rows[8];
      for (auto& r : rows) r = row.data();
      interleave_rows(type, rows, group.data(), kColumns);
      row = std::move(group);  // a "row" of 8 rows
    }
    const size_t matrix_bytes = *row_bytes(type, kColumns) * kRows;
    const size_t count = (kMinimumBytes + matrix_bytes - 1) / matrix_bytes;
    storage.resize(matrix_bytes * count);
    for (size_t offset = 0; offset < storage.size(); offset += row.size()) std::memcpy(&storage[offset], row.data(), row.size());
    for (size_t m = 0; m < count; ++m) {
      views.push_back({"bench", type, {kRows, kColumns}, 0, matrix_bytes, 0, &storage[m * matrix_bytes]});
    }
  }
};

void matvec_benchmark(benchmark::State& state, TensorType type) {
  static std::vector<std::unique_ptr<MatrixSet>> sets;  // built once per type, kept for every thread count
  MatrixSet* set = nullptr;
  for (const auto& s : sets) {
    if (s->views.front().type == type) set = s.get();
  }
  if (set == nullptr) set = sets.emplace_back(std::make_unique<MatrixSet>(type)).get();
  const int threads = static_cast<int>(state.range(0));
  const std::vector<float> x = random_row(MatrixSet::kColumns);
  std::vector<float> y(MatrixSet::kRows);
  size_t next = 0;
  for (auto _ : state) {
    smoe::ops::matmul(set->views[next], x.data(), 1, y.data(), {smoe::ops::default_cpu_plan(), threads});
    next = (next + 1) % set->views.size();
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(set->views.front().bytes));
  state.SetLabel(smoe::ops::default_cpu_plan().kernels_name());
}

void int8_tiles_benchmark(benchmark::State& state, const Int8PromptKernels* kernels, size_t block_columns) {
  constexpr size_t kRows = 48, kColumns = 4096, kTokens = 128;
  const size_t blocks = int8_blocks(kColumns, block_columns);
  std::vector<uint8_t> rows_q(kRows * kColumns), tiles(kRows / kInt8TileRows * int8_tile_bytes(blocks, block_columns));
  std::vector<float> row_scales(kRows * blocks), tile_scales(kRows / kInt8TileRows * int8_tile_scales(blocks));
  const std::vector<float> w = random_row(kRows * kColumns), x = random_row(kTokens * kColumns);
  for (size_t r = 0; r < kRows; ++r) {
    quantize_weight_row_int8_ref(&w[r * kColumns], kColumns, block_columns, &rows_q[r * kColumns],
                                 &row_scales[r * blocks]);
  }
  const PackInt8TileFn pack = kernels ? kernels->pack_tile_ref : pack_int8_tile_ref;  // the kernel's layout
  for (size_t t = 0; t < kRows / kInt8TileRows; ++t) {
    pack(&rows_q[t * kInt8TileRows * kColumns], &row_scales[t * kInt8TileRows * blocks], kInt8TileRows, blocks,
         block_columns, &tiles[t * int8_tile_bytes(blocks, block_columns)], &tile_scales[t * int8_tile_scales(blocks)]);
  }
  Int8Activations a;
  quantize_activations_int8(kernels, x.data(), kTokens, kColumns, block_columns, a);
  std::vector<float> y(kTokens * kRows);
  const GemmInt8TilesFn kernel = kernels ? kernels->tiles : gemm_int8_tiles_ref;
  for (auto _ : state) {
    kernel(tiles.data(), tile_scales.data(), kRows, a, y.data(), kRows);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(kRows * kColumns * kTokens) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(kernels ? std::string(int8_kernels_name(*kernels)) : "scalar reference");
}

// kRows x kColumns: Mixtral 8x7B's w1 / w3 (14336 x 4096) or, `down`, w2 (4096 x 14336).
void gemm_benchmark(benchmark::State& state, TensorType type, bool down) {
  const size_t kRows = down ? 4096 : 14336, kColumns = down ? 14336 : 4096;
  constexpr size_t kTokens = 128;
  const size_t row_bytes = *smoe::quant::row_bytes(type, kColumns);
  std::vector<std::byte> bytes(kRows * row_bytes);
  const std::vector<float> row = random_row(kColumns);
  for (size_t r = 0; r < kRows; ++r) quantize_row(row_type(type), row.data(), bytes.data() + r * row_bytes, kColumns);
  if (type_traits(type).row_group > 1) {  // q4k_x8, q8_x8: the rows interleaved by eight
    std::vector<std::byte> group(8 * row_bytes);
    for (size_t g = 0; g < kRows / 8; ++g) {
      const std::byte* rows[8];
      for (size_t r = 0; r < 8; ++r) rows[r] = bytes.data() + (8 * g + r) * row_bytes;
      interleave_rows(type, rows, group.data(), kColumns);
      std::memcpy(bytes.data() + 8 * g * row_bytes, group.data(), group.size());
    }
  }
  const smoe::format::TensorView view{"w", type, {kRows, kColumns}, 0, bytes.size(), 0, bytes.data()};
  const std::vector<float> x = random_row(kTokens * kColumns);
  std::vector<float> y(kTokens * kRows);
  for (auto _ : state) {
    smoe::ops::gemm(view, x.data(), kTokens, y.data(), {smoe::ops::default_cpu_plan(), 1});
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(kRows * kColumns * kTokens) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(smoe::ops::default_cpu_plan().prompt_products());
}

// Rows of `type` to int8 (quant/gemm_int8.h's row_as_int8), `requantize` nullptr: the reference.
void int8_rows_benchmark(benchmark::State& state, TensorType type, RowAsInt8Fn requantize) {
  constexpr size_t kRows = 64, kColumns = 4096;
  const size_t row_bytes = *smoe::quant::row_bytes(type, kColumns);
  std::vector<std::byte> bytes(kRows * row_bytes);
  const std::vector<float> row = random_row(kColumns);
  for (size_t r = 0; r < kRows; ++r) quantize_row(type, row.data(), bytes.data() + r * row_bytes, kColumns);
  std::vector<uint8_t> q(kRows * kColumns);
  std::vector<float> scales(kRows * kColumns / int8_block_columns(type));
  const size_t scales_per_row = kColumns / int8_block_columns(type);
  for (auto _ : state) {
    for (size_t r = 0; r < kRows; ++r) {
      const std::byte* in = bytes.data() + r * row_bytes;
      if (requantize != nullptr) {
        requantize(in, kColumns, &q[r * kColumns], &scales[r * scales_per_row]);
      } else {
        row_as_int8_ref(type, in, kColumns, &q[r * kColumns], &scales[r * scales_per_row]);
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
  state.counters["weights/s"] = benchmark::Counter(double(kRows * kColumns) * double(state.iterations()),
                                                   benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

const DotCase kDotCases[] = {{TensorType::q8, false},
                             {TensorType::q4, false},
                             {TensorType::q4k, true},
                             {TensorType::q6k, true},
                             {TensorType::q3k, true},
                             {TensorType::f32, false},
                             {TensorType::f16, false},
                             {TensorType::bf16, false}};

void register_benchmarks() {
  for (const Kernels* kernels : available_kernels()) {
    const std::string isa = kernels_name(*kernels);
    for (const DotCase& c : kDotCases) {
      for (size_t n : {size_t{4096}, size_t{14336}}) {
        benchmark::RegisterBenchmark(("dot/" + std::string(type_name(c.type)) + "/" + isa + "/" + std::to_string(n)).c_str(),
                                     dot_benchmark, kernels, c, n);
      }
    }
    for (const TensorType type : {TensorType::q4k_x8, TensorType::q8_x8}) {
      for (size_t n : {size_t{4096}, size_t{14336}}) {
        benchmark::RegisterBenchmark(("dot/" + std::string(type_name(type)) + "/" + isa + "/" + std::to_string(n)).c_str(),
                                     dot_x8_benchmark, kernels, type, n, 1);
      }
      for (size_t tokens : {2, 4, 8}) {
        benchmark::RegisterBenchmark(
            ("dot-tokens/" + std::string(type_name(type)) + "/" + isa + "/" + std::to_string(tokens)).c_str(),
            dot_x8_benchmark, kernels, type, size_t{4096}, tokens);
      }
    }
    for (size_t tokens : {2, 3, 4, 8}) {
      benchmark::RegisterBenchmark(("stream-tokens/q4k_x8/" + isa + "/" + std::to_string(tokens)).c_str(),
                                   stream_benchmark, kernels, true, tokens)
          ->MinTime(2.0);
    }
    for (const bool interleaved : {false, true}) {
      benchmark::RegisterBenchmark(("stream/" + std::string(interleaved ? "q4k_x8/" : "q4k/") + isa).c_str(),
                                   stream_benchmark, kernels, interleaved, size_t{1})
          ->MinTime(2.0);
    }
    benchmark::RegisterBenchmark(("quantize/q8a/" + isa).c_str(), quantize_benchmark, kernels, false);
    benchmark::RegisterBenchmark(("quantize/q8k/" + isa).c_str(), quantize_benchmark, kernels, true);
    for (const bool int8 : {false, true}) {
      for (const bool values : {false, true}) {
        const std::string name = std::string("attention/") + (values ? "values/" : "keys/") + (int8 ? "i8/" : "f16/") + isa;
        benchmark::RegisterBenchmark(name.c_str(), attention_benchmark, kernels, int8, values, false);
        benchmark::RegisterBenchmark((name + "/dram").c_str(), attention_benchmark, kernels, int8, values, true);
      }
    }
  }
  std::vector<const Int8PromptKernels*> int8_tables = int8_kernel_tables();
  if (int8_tables.empty()) int8_tables.push_back(nullptr);  // the reference
  for (const Int8PromptKernels* table : int8_tables) {
    for (const size_t block_columns : {size_t{32}, size_t{256}}) {
      const std::string isa = table ? std::string(int8_kernels_name(*table)) : "scalar";
      benchmark::RegisterBenchmark(("gemm-int8/" + isa + "/" + std::to_string(block_columns)).c_str(),
                                   int8_tiles_benchmark, table, block_columns)
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const TensorType type : {TensorType::q4, TensorType::q4k, TensorType::q6k, TensorType::q3k}) {
    const std::string name = "int8-rows/" + std::string(type_name(type)) + "/";
    benchmark::RegisterBenchmark((name + "ref").c_str(), int8_rows_benchmark, type, nullptr);
    // The AVX-512 and AVX2 builds, from the int8 tables that name them.
    for (const auto& [build, table] :
         {std::pair{"avx512", avx512_vnni_int8_kernels()}, std::pair{"avx2", avx2_int8_kernels()}}) {
      if (table == nullptr) continue;
      if (const RowAsInt8Fn f = table->for_type(type).row_as_int8) {
        benchmark::RegisterBenchmark((name + build).c_str(), int8_rows_benchmark, type, f);
      }
    }
  }
  for (const TensorType type : {TensorType::q8, TensorType::q8_x8, TensorType::q4, TensorType::q4k, TensorType::q4k_x8,
                                TensorType::q6k, TensorType::q3k}) {
    benchmark::RegisterBenchmark(("gemm/" + std::string(type_name(type))).c_str(), gemm_benchmark, type, false)
        ->Unit(benchmark::kMillisecond);
  }
  for (const TensorType type : {TensorType::q8, TensorType::q4k}) {
    benchmark::RegisterBenchmark(("gemm-down/" + std::string(type_name(type))).c_str(), gemm_benchmark, type, true)
        ->Unit(benchmark::kMillisecond);
  }
  std::vector<TensorType> matvec_types;
  for (const DotCase& c : kDotCases) matvec_types.push_back(c.type);
  matvec_types.push_back(TensorType::q4k_x8);
  matvec_types.push_back(TensorType::q8_x8);
  for (const TensorType type : matvec_types) {
    benchmark::RegisterBenchmark(("matvec/" + std::string(type_name(type))).c_str(), matvec_benchmark, type)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
