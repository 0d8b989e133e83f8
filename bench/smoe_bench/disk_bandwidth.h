// The rate this machine's disk delivers the model file's experts by direct reads (around the
// page cache, as the expert cache reads them): smoe-bench measures it beside every generation
// repetition of a model whose experts come from disk, for the disk-bound limit of its decoding.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/container.h"
#include "util/direct_reader.h"

namespace smoe::bench {

class DiskReadProbe {
 public:
  // Reads through a buffer of kBufferBytes; throws smoe::Error naming the file.
  explicit DiskReadProbe(const format::Container& container);
  ~DiskReadProbe();
  // Bytes per second over `bytes` read from the expert ranges, each call further along them (a
  // range read again soon after may come from the drive's cache).
  double measure(uint64_t bytes = uint64_t{256} << 20);

 private:
  static constexpr uint64_t kBufferBytes = uint64_t{32} << 20;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // (offset, bytes) of the experts
  size_t next_range_ = 0;
  uint64_t next_offset_ = 0;  // within ranges_[next_range_]
  std::byte* buffer_ = nullptr;
  std::unique_ptr<DirectReader> reader_;
};

}  // namespace smoe::bench
