// DirectReader: a queue of pieces served by reader threads with pread.
#include "util/direct_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

#include "smoe/error.h"

namespace smoe {

struct DirectReader::Request {
  std::atomic<uint64_t> pieces_left{0};
  std::mutex mutex;
  std::string error;  // the first piece's failure
  Done done;
};

DirectReader::DirectReader(const std::string& path, unsigned threads) : path_(path) {
  buffered_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (buffered_fd_ < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  direct_ = fd_ >= 0;  // tmpfs and some network filesystems refuse it
  if (!direct_) fd_ = buffered_fd_;
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { work(); });
}

DirectReader::~DirectReader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    demand_.clear();
    prefetch_.clear();
  }
  work_ready_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  if (direct_) ::close(fd_);
  ::close(buffered_fd_);
}

void DirectReader::read(uint64_t offset, uint64_t bytes, std::byte* destination, Priority priority, Done done) {
  auto request = std::make_shared<Request>();
  request->done = std::move(done);
  const uint64_t pieces = std::max<uint64_t>(1, (bytes + kPieceBytes - 1) / kPieceBytes);
  request->pieces_left = pieces;
  {
    std::lock_guard lock(mutex_);
    std::deque<Piece>& queue = priority == Priority::demand ? demand_ : prefetch_;
    for (uint64_t i = 0; i < pieces; ++i) {
      const uint64_t begin = i * kPieceBytes;
      queue.push_back({request, offset + begin, std::min(kPieceBytes, bytes - std::min(bytes, begin)), destination + begin});
    }
  }
  work_ready_.notify_all();
}

void DirectReader::read_now(uint64_t offset, uint64_t bytes, std::byte* destination) {
  std::promise<std::string> finished;
  read(offset, bytes, destination, Priority::demand, [&](const std::string& error) { finished.set_value(error); });
  const std::string error = finished.get_future().get();
  if (!error.empty()) throw Error(path_, error);
}

uint64_t DirectReader::bytes_read() const {
  std::lock_guard lock(mutex_);
  return bytes_read_;
}

double DirectReader::busy_seconds() const {
  std::lock_guard lock(mutex_);
  double busy = busy_seconds_;
  if (in_flight_ > 0) busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - busy_since_).count();
  return busy;
}

void DirectReader::work() {
  for (;;) {
    Piece piece;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !demand_.empty() || !prefetch_.empty(); });
      if (stopping_) return;
      std::deque<Piece>& queue = !demand_.empty() ? demand_ : prefetch_;
      piece = std::move(queue.front());
      queue.pop_front();
      if (in_flight_++ == 0) busy_since_ = std::chrono::steady_clock::now();
    }
    const std::string error = read_piece(piece);
    {
      std::lock_guard lock(mutex_);
      bytes_read_ += error.empty() ? piece.bytes : 0;
      if (--in_flight_ == 0) busy_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - busy_since_).count();
    }
    Request& request = *piece.request;
    if (!error.empty()) {
      std::lock_guard lock(request.mutex);
      if (request.error.empty()) request.error = error;
    }
    if (--request.pieces_left == 0) {
      std::string failure;
      {
        std::lock_guard lock(request.mutex);
        failure = request.error;
      }
      request.done(failure);
    }
  }
}

// A direct read reads whole blocks: the piece is read rounded up to kAlignment (the caller's
// memory is), and a short count at the end of the file is the file's end, not an error, as long
// as the bytes asked for arrived. O_DIRECT refusing this piece (EINVAL) falls back to the page cache.
std::string DirectReader::read_piece(const Piece& piece) {
  const uint64_t rounded = (piece.bytes + kAlignment - 1) / kAlignment * kAlignment;
  int fd = fd_;
  uint64_t done = 0;
  while (done < piece.bytes) {
    const uint64_t want = (fd == buffered_fd_ ? piece.bytes : rounded) - done;
    const ssize_t got = ::pread(fd, piece.destination + done, want, static_cast<off_t>(piece.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EINVAL && fd != buffered_fd_) {
      fd = buffered_fd_;
      continue;
    }
    if (got < 0) return "read of " + std::to_string(piece.bytes) + " bytes at offset " + std::to_string(piece.offset) +
                        " failed: " + std::strerror(errno);
    if (got == 0) return "file ends before offset " + std::to_string(piece.offset + piece.bytes) + " (truncated?)";
    done += static_cast<uint64_t>(got);
  }
  // Pages read through the cache are dropped again: they would only duplicate the copy the
  // caller keeps (advisory).
  if (fd == buffered_fd_) ::posix_fadvise(fd, static_cast<off_t>(piece.offset), static_cast<off_t>(piece.bytes), POSIX_FADV_DONTNEED);
  return {};
}

}  // namespace smoe
