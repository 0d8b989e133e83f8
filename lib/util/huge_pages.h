// An allocator for large arrays streamed every token (the KV cache): 2 MiB-aligned, with
// transparent huge pages requested, so the TLB and the hardware prefetchers do not restart
// every 4 KiB. Small arrays come from the ordinary heap.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

namespace smoe {

template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t count) {
    const size_t bytes = count * sizeof(T);
    if (bytes < kHugePage) {
      if (void* memory = std::malloc(bytes)) return static_cast<T*>(memory);
      throw std::bad_alloc();
    }
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* memory = std::aligned_alloc(kHugePage, rounded);
    if (!memory) throw std::bad_alloc();
    ::madvise(memory, rounded, MADV_HUGEPAGE);  // advisory
    return static_cast<T*>(memory);
  }
  void deallocate(T* memory, size_t) noexcept { std::free(memory); }

  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using HugePageVector = std::vector<T, HugePageAllocator<T>>;

// Resident bytes, and those in 2 MiB pages, of the mappings that overlap the given ranges,
// from /proc/self/smaps: whole mappings, each counted once however many ranges it holds (a
// small array on the heap brings the heap's pages along).
struct ResidentPages {
  bool known = false;  // false where smaps cannot be read or no range is given
  uint64_t resident_bytes = 0, huge_bytes = 0;
  // Share (0..1) in 2 MiB pages; -1 where unknown or nothing is resident.
  double huge_fraction() const { return known && resident_bytes > 0 ? double(huge_bytes) / double(resident_bytes) : -1; }
};
struct MemoryRange {
  const void* begin;
  size_t bytes;
};
ResidentPages resident_pages(std::span<const MemoryRange> ranges);  // empty ranges are skipped
inline ResidentPages resident_pages(const void* begin, size_t bytes) {
  const MemoryRange range{begin, bytes};
  return resident_pages({&range, 1});
}

}  // namespace smoe
