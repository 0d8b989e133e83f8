// Read bandwidth: each thread sums its slice with independent accumulators (vectorised, so the
// loop is bound by memory, not by adds).
#include "memory_bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace smoe::bench {
namespace {

// Sums a slice with 8 independent accumulators; compiled for the widest vectors the CPU has
// (function multi-versioning), so the loop is bound by memory even on one core.
__attribute__((target_clones("avx512f", "avx2", "default")))
uint64_t sum_slice(const uint64_t* data, size_t count) {
  uint64_t lanes[8] = {};
  for (size_t i = 0; i + 8 <= count; i += 8) {
    for (int lane = 0; lane < 8; ++lane) lanes[lane] += data[i + lane];
  }
  uint64_t total = 0;
  for (uint64_t lane : lanes) total += lane;
  return total;
}

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(int threads, size_t bytes)
    : threads_(threads),
      count_(bytes / sizeof(uint64_t)),
      // In 2 MiB pages, as the weights are: with 4 KiB pages this pass measured 9-14% less,
      // which would flatter the efficiency figure. Allocated, not a
      // vector, so that the reading threads touch their slices first.
      buffer_(HugePageAllocator<uint64_t>().allocate(count_), Release{count_}) {
  uint64_t* buffer = buffer_.get();
  const size_t count = count_;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) buffer[i] = i;  // first touch by the reading threads
}

double ReadBandwidthProbe::measure(int passes) const {
  const uint64_t* buffer = buffer_.get();
  const size_t count = count_;
  std::vector<double> rates;
  volatile uint64_t sink = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    uint64_t total = 0;
#pragma omp parallel num_threads(threads_) reduction(+ : total)
    {
      // The same static split as the first touch, one contiguous slice per thread.
      const size_t parts = static_cast<size_t>(omp_get_num_threads());
      const size_t part = static_cast<size_t>(omp_get_thread_num());
      const size_t begin = count * part / parts, end = count * (part + 1) / parts;
      total += sum_slice(&buffer[begin], end - begin);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sink = sink + total;
    rates.push_back(double(count * sizeof(uint64_t)) / seconds);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace smoe::bench
