// Available memory from /proc/meminfo.
#include "util/memory.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "smoe/error.h"

namespace smoe {

std::optional<uint64_t> available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

void require_memory(uint64_t bytes, std::optional<uint64_t> available, const std::string& where, const std::string& what,
                    const std::string& advice) {
  if (!available || bytes <= *available) return;
  char message[256];
  std::snprintf(message, sizeof(message), "%s needs %.1f MiB but only %.1f MiB of memory are available", what.c_str(),
                double(bytes) / (1 << 20), double(*available) / (1 << 20));
  throw Error(where, std::string(message) + " (" + advice + ")");
}

}  // namespace smoe
