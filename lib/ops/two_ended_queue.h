// Work units that threads take from both ends of one list: even-numbered threads from the
// front, odd-numbered from the back, each unit exactly once, without locks. With the list in
// order of decreasing arithmetic per byte (ops::matmul_batches: experts by token count), the two
// kinds of thread work on opposite kinds of unit at the same time until they meet.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace smoe::ops {

class TwoEndedQueue {
 public:
  explicit TwoEndedQueue(size_t units) : ends_(units) {
    // Both ends share one 64-bit word (one compare-and-swap per claim): 32 bits each.
    if (units > UINT32_MAX) throw std::length_error("TwoEndedQueue: more than 2^32 units");
  }

  // The next unit from the front or the back; false once every unit is taken.
  bool claim(bool from_front, size_t& unit) {
    uint64_t current = ends_.load(std::memory_order_relaxed);
    while (true) {
      const uint64_t front = current >> 32, back = current & 0xffffffffu;
      if (front >= back) return false;
      const uint64_t next = from_front ? current + (uint64_t{1} << 32) : current - 1;
      if (ends_.compare_exchange_weak(current, next, std::memory_order_relaxed)) {
        unit = from_front ? front : back - 1;
        return true;
      }
    }
  }

 private:
  std::atomic<uint64_t> ends_;  // front in the high 32 bits, back (one past the last left) in the low
};

}  // namespace smoe::ops
