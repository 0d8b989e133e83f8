// A STREAM-like measurement of this machine's memory read bandwidth: threads sum a buffer far
// larger than the caches; the median of several passes is reported.
#pragma once

#include <cstddef>

namespace smoe::bench {

// Bytes per second read by `threads` threads over a buffer of `bytes` (default 1 GiB).
double measure_read_bandwidth(int threads, size_t bytes = size_t{1} << 30, int passes = 7);

}  // namespace smoe::bench
