#include "util/huge_pages.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

namespace smoe {

ResidentPages resident_pages(std::span<const MemoryRange> ranges) {
  ResidentPages pages;
  const auto overlaps = [&ranges](uintptr_t first, uintptr_t last) {
    return std::any_of(ranges.begin(), ranges.end(), [&](const MemoryRange& range) {
      const auto begin = reinterpret_cast<uintptr_t>(range.begin);
      return range.begin && range.bytes > 0 && first < begin + range.bytes && last > begin;
    });
  };
  if (!std::any_of(ranges.begin(), ranges.end(), [](const MemoryRange& range) { return range.begin && range.bytes > 0; })) {
    return pages;
  }
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return pages;
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    uintptr_t first = 0, last = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &first, &last) == 2 && line.find(':') > line.find(' ')) {
      inside = overlaps(first, last);  // a mapping header line: "start-end perms ..."
      continue;
    }
    if (!inside) continue;
    uint64_t kb = 0;
    if (std::sscanf(line.c_str(), "Rss: %lu kB", &kb) == 1) pages.resident_bytes += kb << 10;
    if (std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &kb) == 1) pages.huge_bytes += kb << 10;
    if (std::sscanf(line.c_str(), "FilePmdMapped: %lu kB", &kb) == 1) pages.huge_bytes += kb << 10;
  }
  pages.known = true;
  return pages;
}

}  // namespace smoe
