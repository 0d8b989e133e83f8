#include "util/huge_pages.h"

#include <cstdio>
#include <fstream>
#include <string>

namespace smoe {

ResidentPages resident_pages(const void* begin, size_t bytes) {
  ResidentPages pages;
  std::ifstream smaps("/proc/self/smaps");
  if (!begin || bytes == 0 || !smaps) return pages;
  const auto first_byte = reinterpret_cast<uintptr_t>(begin), end = first_byte + bytes;
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    uintptr_t first = 0, last = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &first, &last) == 2 && line.find(':') > line.find(' ')) {
      inside = first < end && last > first_byte;  // a mapping header line: "start-end perms ..."
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
