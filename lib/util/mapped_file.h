// A read-only, shared memory mapping of a whole file (RAII). Not thread-safe to move, but
// reading the mapped bytes from many threads at once is fine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace smoe {

class MappedFile {
 public:
  // Maps `path` read-only (asking for 2 MiB pages); throws smoe::Error naming the path when it cannot.
  static MappedFile open(const std::string& path);
  // Reads `path` into anonymous memory with transparent huge pages requested instead (the
  // file's page cache stays, reclaimable by the kernel, for other readers): decoding streams every weight once per token,
  // and 2 MiB pages keep the hardware prefetchers and the TLB from restarting every 4 KiB
  // (measured +11% decode speed on 2 threads, docs/PERFORMANCE.md). Costs the read at load.
  // `progress(done, total)` after each piece read (pieces of 64 MiB), when given.
  // `skip`: byte ranges (ascending, not overlapping) left unread: their pages are never touched,
  // so they take no memory (an expert cache reads them itself); the file's pages read are then
  // dropped from the page cache too, since memory is short. `progress` counts the bytes read.
  struct Range {
    uint64_t offset, bytes;
  };
  static MappedFile read_into_memory(const std::string& path,
                                     const std::function<void(uint64_t, uint64_t)>& progress = {},
                                     std::span<const Range> skip = {});

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, static_cast<size_t>(size_)}; }
  const std::string& path() const { return path_; }

  // Share (0..1) of the resident bytes of this mapping that sit in 2 MiB pages (anonymous or
  // file huge pages), from /proc/self/smaps; -1 where unknown or nothing is resident.
  double huge_page_fraction() const;

  // Drops the pages of [offset, offset + length) from this process's resident set (they stay
  // in the page cache); used by streaming readers so resident memory stays near one tensor.
  // Does nothing for read_into_memory() copies (their pages are the only copy).
  void release(uint64_t offset, uint64_t length) const;

 private:
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  bool anonymous_ = false;
};

}  // namespace smoe
