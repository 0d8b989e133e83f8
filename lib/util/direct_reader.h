// Reads byte ranges of one file into caller-owned memory on a few background threads, around
// the page cache where the filesystem allows (O_DIRECT). Used for experts read from disk on
// demand: going through the page cache would keep a second copy of every expert read, which a
// memory limit counts (a cgroup charges page cache to the process) and which the kernel evicts
// in its own order. Direct reads are also faster here: one 16 MiB O_DIRECT read stream ran at
// 3.4x buffered read()'s rate on the same file (docs/PERFORMANCE.md, "Models larger than memory").
//
// Requests are split into pieces of kPieceBytes so that several are in flight on the threads;
// demand reads are served before prefetches. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace smoe {

class DirectReader {
 public:
  static constexpr uint64_t kAlignment = 4096;        // offsets, sizes and memory for O_DIRECT
  static constexpr uint64_t kPieceBytes = 8u << 20;   // one pread
  enum class Priority : uint8_t { demand, prefetch };
  // Called once per request on a reader thread, with "" or the reason it failed.
  using Done = std::function<void(const std::string& error)>;

  // Opens `path` (throws smoe::Error naming it when it cannot). `threads` readers.
  DirectReader(const std::string& path, unsigned threads = 2);
  ~DirectReader();  // waits for the pieces in flight, drops the queued ones unreported
  DirectReader(const DirectReader&) = delete;
  DirectReader& operator=(const DirectReader&) = delete;

  // Reads [offset, offset + bytes) into `destination`. offset and destination must be
  // kAlignment-aligned and the memory rounded up to kAlignment (a direct read reads whole
  // blocks); bytes past the end of the file read as nothing. `done` runs when all is read.
  void read(uint64_t offset, uint64_t bytes, std::byte* destination, Priority priority, Done done);
  // The same, waiting for it: throws smoe::Error naming the file on failure.
  void read_now(uint64_t offset, uint64_t bytes, std::byte* destination);

  bool direct() const { return direct_; }  // false: the filesystem refused O_DIRECT (buffered reads)
  const std::string& path() const { return path_; }
  uint64_t bytes_read() const;
  // Seconds during which at least one read was in flight (bytes_read / busy_seconds = the rate
  // the disk delivered while it was being read).
  double busy_seconds() const;

 private:
  struct Request;
  struct Piece {
    std::shared_ptr<Request> request;
    uint64_t offset, bytes;
    std::byte* destination;
  };
  void work();
  std::string read_piece(const Piece& piece);

  std::string path_;
  int fd_ = -1;           // O_DIRECT where allowed
  int buffered_fd_ = -1;  // for the pieces O_DIRECT refuses (and every piece where it is unavailable)
  bool direct_ = false;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<Piece> demand_, prefetch_;
  bool stopping_ = false;
  unsigned in_flight_ = 0;
  uint64_t bytes_read_ = 0;
  double busy_seconds_ = 0;
  std::chrono::steady_clock::time_point busy_since_;
  std::vector<std::thread> threads_;
};

}  // namespace smoe
