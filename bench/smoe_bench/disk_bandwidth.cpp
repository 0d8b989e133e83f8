// DiskReadProbe: timed direct reads of the experts' bytes.
#include "disk_bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>

#include "smoe/error.h"

namespace smoe::bench {

DiskReadProbe::DiskReadProbe(const format::Container& container) {
  for (const format::ExpertRange& range : container.expert_ranges()) ranges_.emplace_back(range.offset, range.bytes);
  if (ranges_.empty()) ranges_.emplace_back(0, container.file_bytes() / DirectReader::kAlignment * DirectReader::kAlignment);
  void* memory = ::mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw Error(container.path(), "cannot allocate the disk probe's buffer");
  buffer_ = static_cast<std::byte*>(memory);
  reader_ = std::make_unique<DirectReader>(container.path());
}

DiskReadProbe::~DiskReadProbe() {
  reader_.reset();  // no read in flight into the buffer
  ::munmap(buffer_, kBufferBytes);
}

double DiskReadProbe::measure(uint64_t bytes) {
  // Pieces of up to kBufferBytes from consecutive expert ranges; each read is waited for, but
  // its pieces are in flight on the reader's threads together, as an expert's are.
  uint64_t done = 0;
  const auto start = std::chrono::steady_clock::now();
  while (done < bytes) {
    const auto& [offset, length] = ranges_[next_range_];
    const uint64_t take = std::min({kBufferBytes, length - next_offset_, bytes - done});
    reader_->read_now(offset + next_offset_, take, buffer_);
    done += take;
    next_offset_ += take;
    if (next_offset_ >= length) {
      next_offset_ = 0;
      next_range_ = (next_range_ + 1) % ranges_.size();
    }
  }
  return double(done) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace smoe::bench
