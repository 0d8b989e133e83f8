// A STREAM-like measurement of this machine's memory read bandwidth: threads sum a buffer far
// larger than the caches; the median of several passes is reported. smoe-bench measures it
// beside every generation repetition, so a slower or faster phase of a shared machine moves
// both numbers of an efficiency ratio together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "util/huge_pages.h"

namespace smoe::bench {

class ReadBandwidthProbe {
 public:
  // Allocates and first-touches `bytes` (default 1 GiB) in 2 MiB pages, with `threads` threads.
  explicit ReadBandwidthProbe(int threads, size_t bytes = size_t{1} << 30);
  // Bytes per second: the median of `passes` reads of the whole buffer.
  double measure(int passes = 7) const;

 private:
  struct Release {
    size_t count;
    void operator()(uint64_t* words) const { HugePageAllocator<uint64_t>().deallocate(words, count); }
  };
  int threads_;
  size_t count_;  // uint64_t words
  std::unique_ptr<uint64_t, Release> buffer_;
};

}  // namespace smoe::bench
