// mmap-based implementation of MappedFile.
#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "smoe/error.h"
#include "util/direct_reader.h"
#include "util/huge_pages.h"

namespace smoe {

namespace {

// Share (0..1) of the file's pages in the page cache (mincore over a mapping); 0 where unknown.
double cached_share(int fd, uint64_t size) {
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED) return 0;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  double share = 0;
  if (::mincore(mapping, size, resident.data()) == 0) {
    uint64_t cached = 0;
    for (const unsigned char flags : resident) cached += flags & 1u;
    share = double(cached) / double(std::max<size_t>(resident.size(), 1));
  }
  ::munmap(mapping, size);
  return share;
}

// From the page cache: preads of 64 MiB (as fast as larger ones, and often enough for a
// progress line). `drop`: the pages read leave the cache again.
void read_cached(int fd, const std::string& path, const std::vector<MappedFile::Range>& pieces, uint64_t total,
                 std::byte* memory, bool drop, const std::function<void(uint64_t, uint64_t)>& progress) {
  uint64_t done = 0;
  for (const MappedFile::Range& piece : pieces) {
    uint64_t piece_done = 0;
    while (piece_done < piece.bytes) {
      const uint64_t offset = piece.offset + piece_done;
      const ssize_t got = ::pread(fd, memory + offset, std::min<uint64_t>(piece.bytes - piece_done, 64u << 20),
                                  static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw Error(path, got == 0 ? "file shrank while reading" : std::string("read failed: ") + std::strerror(errno));
      piece_done += static_cast<uint64_t>(got);
      done += static_cast<uint64_t>(got);
      if (progress) progress(done, total);
    }
    if (drop) ::posix_fadvise(fd, static_cast<off_t>(piece.offset), static_cast<off_t>(piece.bytes), POSIX_FADV_DONTNEED);
  }
}

// From the disk: direct reads of 64 MiB requests on reader threads, several in flight (a cold
// file read this way arrived at 1.3-1.4 GB/s where buffered reads managed 380 MB/s, on the same
// VM disk). Pieces are widened to whole blocks, as direct reads need; the widening reads a few
// bytes of the skipped ranges, which costs their edge pages only.
void read_direct(const std::string& path, const std::vector<MappedFile::Range>& pieces, uint64_t total, std::byte* memory,
                 uint64_t file_size, const std::function<void(uint64_t, uint64_t)>& progress) {
  constexpr uint64_t kRequestBytes = uint64_t{64} << 20;
  DirectReader reader(path, 4);
  std::mutex mutex;
  std::condition_variable finished;
  uint64_t requests = 0, completed = 0, done = 0;
  std::string failure;
  for (const MappedFile::Range& piece : pieces) {
    const uint64_t begin = piece.offset / DirectReader::kAlignment * DirectReader::kAlignment;
    const uint64_t end = std::min(file_size, (piece.offset + piece.bytes + DirectReader::kAlignment - 1) /
                                                 DirectReader::kAlignment * DirectReader::kAlignment);
    for (uint64_t offset = begin; offset < end; offset += kRequestBytes) {
      const uint64_t bytes = std::min(kRequestBytes, end - offset);
      ++requests;
      reader.read(offset, bytes, memory + offset, DirectReader::Priority::demand, [&, bytes](const std::string& error) {
        std::lock_guard lock(mutex);
        ++completed;
        done += bytes;
        if (!error.empty() && failure.empty()) failure = error;
        finished.notify_all();
      });
    }
  }
  std::unique_lock lock(mutex);
  uint64_t reported = 0;
  while (completed < requests) {
    finished.wait(lock, [&] { return completed == requests || done != reported; });
    reported = done;
    if (progress && failure.empty()) {
      const uint64_t shown = std::min(done, total);
      lock.unlock();
      progress(completed == requests ? total : shown, total);
      lock.lock();
    }
  }
  if (!failure.empty()) throw Error(path, failure);
}

}  // namespace

MappedFile MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int saved = errno;
    ::close(fd);
    throw Error(path, std::string("cannot stat: ") + std::strerror(saved));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(path, "not a regular file");
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<uint64_t>(info.st_size);
  if (file.size_ > 0) {
    void* mapping = ::mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) {
      const int saved = errno;
      ::close(fd);
      throw Error(path, std::string("cannot map: ") + std::strerror(saved));
    }
    // Advisory: where the file is not cached yet, the kernel then fills its page cache in 2 MiB
    // folios and maps them with 2 MiB entries (on kernels and filesystems that support it).
    ::madvise(mapping, file.size_, MADV_HUGEPAGE);
    file.data_ = static_cast<const std::byte*>(mapping);
  }
  ::close(fd);  // the mapping keeps the file alive
  return file;
}

MappedFile MappedFile::read_into_memory(const std::string& path, const std::function<void(uint64_t, uint64_t)>& progress,
                                        std::span<const Range> skip) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(path, "not a regular file");
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<uint64_t>(info.st_size);
  file.anonymous_ = true;
  if (file.size_ == 0) {
    ::close(fd);
    return file;
  }
  void* memory = ::mmap(nullptr, file.size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    ::close(fd);
    throw Error(path, "cannot allocate " + std::to_string(file.size_) + " bytes to read the file into memory");
  }
  ::madvise(memory, file.size_, MADV_HUGEPAGE);  // advisory
  // The pieces to read: the file minus `skip`.
  std::vector<Range> pieces;
  uint64_t at = 0, total = 0;
  for (const Range& gap : skip) {
    const uint64_t begin = std::min(gap.offset, file.size_), end = std::min(file.size_, begin + std::min(gap.bytes, file.size_ - begin));
    if (begin > at) pieces.push_back({at, begin - at});
    at = std::max(at, end);
  }
  if (at < file.size_) pieces.push_back({at, file.size_ - at});
  for (const Range& piece : pieces) total += piece.bytes;
  try {
    if (cached_share(fd, file.size_) < 0.5) {
      read_direct(path, pieces, total, static_cast<std::byte*>(memory), file.size_, progress);
    } else {
      read_cached(fd, path, pieces, total, static_cast<std::byte*>(memory), !skip.empty(), progress);
    }
  } catch (...) {
    ::munmap(memory, file.size_);
    ::close(fd);
    throw;
  }
  ::close(fd);
  ::mprotect(memory, file.size_, PROT_READ);
  file.data_ = static_cast<const std::byte*>(memory);
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      anonymous_(std::exchange(other.anonymous_, false)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    anonymous_ = std::exchange(other.anonymous_, false);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

double MappedFile::huge_page_fraction() const { return resident_pages(data_, size_).huge_fraction(); }

void MappedFile::release(uint64_t offset, uint64_t length) const {
  if (!data_ || anonymous_ || offset >= size_) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page;
  const uint64_t end = std::min(size_, offset + std::min(length, size_ - offset));
  // Advisory: a failure only means the pages stay resident a little longer.
  ::madvise(const_cast<std::byte*>(data_) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace smoe
