// Google Benchmark of the scalar reference quantizers and dot products (the baseline that the
// per-ISA kernels of later work are measured against). Counters: input GB/s.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "quant/block_q4.h"
#include "quant/block_q4k.h"
#include "quant/block_q8.h"
#include "quant/kernels.h"

namespace {

std::vector<float> random_row(size_t n) {
  std::mt19937 generator(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> row(n);
  for (float& value : row) value = normal(generator);
  return row;
}

template <class Block, void (*Quantize)(const float*, Block*, size_t)>
void quantize_benchmark(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<float> row = random_row(n);
  std::vector<Block> blocks(n / Block::kElements);
  for (auto _ : state) {
    Quantize(row.data(), blocks.data(), n);
    benchmark::DoNotOptimize(blocks.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * sizeof(float)));
}

template <class Block, void (*Quantize)(const float*, Block*, size_t), float (*Dot)(const Block*, const float*, size_t)>
void dot_benchmark(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<float> row = random_row(n);
  std::vector<Block> blocks(n / Block::kElements);
  Quantize(row.data(), blocks.data(), n);
  for (auto _ : state) benchmark::DoNotOptimize(Dot(blocks.data(), row.data(), n));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(blocks.size() * sizeof(Block)));
}

using smoe::quant::BlockQ4;
using smoe::quant::BlockQ4K;
using smoe::quant::BlockQ8;
// Plain-signature wrappers (the quantizers take an optional importance vector).
void quantize_q4(const float* x, BlockQ4* y, size_t n) { smoe::quant::quantize_row_q4_ref(x, y, n); }
void quantize_q4k(const float* x, BlockQ4K* y, size_t n) { smoe::quant::quantize_row_q4k_ref(x, y, n); }
BENCHMARK(quantize_benchmark<BlockQ8, smoe::quant::quantize_row_q8_ref>)->Arg(4096)->Arg(14336);
BENCHMARK(quantize_benchmark<BlockQ4, quantize_q4>)->Arg(4096)->Arg(14336);
BENCHMARK(quantize_benchmark<BlockQ4K, quantize_q4k>)->Arg(4096)->Arg(14336);
BENCHMARK(dot_benchmark<BlockQ8, smoe::quant::quantize_row_q8_ref, smoe::quant::dot_q8_f32_ref>)->Arg(4096)->Arg(14336);
BENCHMARK(dot_benchmark<BlockQ4, quantize_q4, smoe::quant::dot_q4_f32_ref>)->Arg(4096)->Arg(14336);
BENCHMARK(dot_benchmark<BlockQ4K, quantize_q4k, smoe::quant::dot_q4k_f32_ref>)->Arg(4096)->Arg(14336);

}  // namespace

// The run-time selected integer kernels (8-bit activations), on an in-cache row: the compute
// bound of decoding, as weight GB/s.
namespace {

void selected_q4k_benchmark(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<float> row = random_row(n);
  std::vector<BlockQ4K> blocks(n / 256);
  smoe::quant::quantize_row_q4k_ref(row.data(), blocks.data(), n);
  std::vector<smoe::quant::BlockQ8K> activations(n / 256);
  const smoe::quant::Kernels& kernels = smoe::quant::active_kernels();
  kernels.quantize_q8k(row.data(), activations.data(), n);
  for (auto _ : state) benchmark::DoNotOptimize(kernels.dot_q4k(blocks.data(), activations.data(), n));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(blocks.size() * sizeof(BlockQ4K)));
  state.SetLabel(std::string(kernels.isa));
}

void selected_q8_benchmark(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<float> row = random_row(n);
  std::vector<BlockQ8> blocks(n / 32);
  smoe::quant::quantize_row_q8_ref(row.data(), blocks.data(), n);
  std::vector<smoe::quant::BlockQ8A> activations(n / 32);
  const smoe::quant::Kernels& kernels = smoe::quant::active_kernels();
  kernels.quantize_q8a(row.data(), activations.data(), n);
  for (auto _ : state) benchmark::DoNotOptimize(kernels.dot_q8(blocks.data(), activations.data(), n));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(blocks.size() * sizeof(BlockQ8)));
  state.SetLabel(std::string(kernels.isa));
}

BENCHMARK(selected_q4k_benchmark)->Arg(4096)->Arg(14336);
BENCHMARK(selected_q8_benchmark)->Arg(4096)->Arg(14336);

}  // namespace

BENCHMARK_MAIN();
