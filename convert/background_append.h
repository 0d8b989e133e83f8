// Appends to a ContainerWriter on a thread of its own, so that the writer's part of a chunk
// (interleaving rows, copying them into the page cache, hashing) overlaps the reading and
// quantizing of the next chunk instead of leaving the cores idle meanwhile (in a profile of a
// q8 conversion on 2 cores, the copy into the page cache alone was a quarter of the samples;
// docs/PERFORMANCE.md, "Converter").
// One append is in flight at a time and appends reach the writer in call order, so the file's
// bytes are the same as with direct appends. Used by one thread.
#pragma once

#include <cstddef>
#include <functional>
#include <future>
#include <vector>

#include "convert/container_writer.h"

namespace smoe::convert {

class BackgroundAppender {
 public:
  explicit BackgroundAppender(ContainerWriter& writer) : writer_(writer) {}
  // Waits for the append in flight (its failure, if any, is dropped: the caller is already
  // leaving by another error).
  ~BackgroundAppender();
  BackgroundAppender(const BackgroundAppender&) = delete;
  BackgroundAppender& operator=(const BackgroundAppender&) = delete;

  // Waits for the previous append (rethrowing its failure), then appends `bytes` to tensor
  // `index` in the background and runs `then` there after it. `bytes` is swapped with the
  // previous append's buffer, which the caller may refill.
  void append(size_t index, std::vector<std::byte>& bytes, std::function<void()> then = {});
  // Waits for the append in flight; rethrows its failure.
  void wait();

 private:
  ContainerWriter& writer_;
  std::vector<std::byte> in_flight_;
  std::future<void> pending_;
};

}  // namespace smoe::convert
