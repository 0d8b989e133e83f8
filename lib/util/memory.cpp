// The memory budget: MemAvailable from /proc/meminfo and the limits of the process's cgroups.
#include "util/memory.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "smoe/error.h"

namespace smoe {
namespace {

namespace fs = std::filesystem;

// Limits at or above this mean "no limit" (cgroup v1 writes 2^63 rounded down to a page).
constexpr uint64_t kUnlimited = uint64_t{1} << 60;

std::optional<uint64_t> read_number(const fs::path& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word)) return std::nullopt;
  if (word == "max") return kUnlimited;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || end != word.data() + word.size()) return std::nullopt;
  return value;
}

// A field of memory.stat ("inactive_file 1234"), 0 when absent.
uint64_t stat_field(const fs::path& path, std::string_view field) {
  std::ifstream in(path);
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == field) return value;
  }
  return 0;
}

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f GiB", double(bytes) / double(1ull << 30));
  return text;
}

// The cgroup path of the v2 hierarchy ("0::/path") or of v1's memory controller
// ("N:memory:/path", possibly "N:cpu,memory:/path").
std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup, bool v2) {
  std::istringstream lines{std::string(proc_self_cgroup)};
  std::string line;
  while (std::getline(lines, line)) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (v2 && line.substr(0, first) == "0" && controllers.empty()) return path;
    if (!v2) {
      std::istringstream names(controllers);
      std::string name;
      while (std::getline(names, name, ',')) {
        if (name == "memory") return path;
      }
    }
  }
  return std::nullopt;
}

// The smallest (limit - usage + inactive file pages) from `directory` up to `top`.
std::optional<uint64_t> tightest(fs::path directory, const fs::path& top, const char* limit_file, const char* usage_file,
                                 const char* inactive_field, uint64_t& limit_found) {
  std::optional<uint64_t> available;
  for (;;) {
    const std::optional<uint64_t> limit = read_number(directory / limit_file);
    const std::optional<uint64_t> usage = read_number(directory / usage_file);
    if (limit && usage && *limit < kUnlimited) {
      const uint64_t reclaimable = std::min(*usage, stat_field(directory / "memory.stat", inactive_field));
      const uint64_t used = *usage - reclaimable;
      const uint64_t left = *limit > used ? *limit - used : 0;
      if (!available || left < *available) {
        available = left;
        limit_found = *limit;
      }
    }
    if (directory == top || !directory.has_parent_path() || directory.parent_path() == directory) break;
    directory = directory.parent_path();
  }
  return available;
}

std::optional<uint64_t> mem_available() {
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

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<uint64_t> cgroup_available_bytes(std::string_view proc_self_cgroup, const fs::path& root,
                                               std::string& source) {
  uint64_t limit = 0;
  // cgroup v2: one hierarchy; memory.max and memory.current at every level that sets them.
  // (On a v1 machine the v2 line names a hierarchy without memory files: it is passed over.)
  if (const std::optional<std::string> path = cgroup_path(proc_self_cgroup, true)) {
    const fs::path own = fs::path(root.string() + *path);
    if (fs::exists(own / "memory.current")) {
      const std::optional<uint64_t> left = tightest(own, root, "memory.max", "memory.current", "inactive_file", limit);
      if (left) source = "cgroup v2 limit " + gib(limit);
      return left;
    }
  }
  // cgroup v1: the memory controller's own hierarchy.
  if (const std::optional<std::string> path = cgroup_path(proc_self_cgroup, false)) {
    const fs::path top = root / "memory";
    const fs::path own = fs::path(top.string() + *path);
    const std::optional<uint64_t> left =
        tightest(own, top, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", limit);
    if (left) source = "cgroup v1 limit " + gib(limit);
    return left;
  }
  return std::nullopt;
}

MemoryBudget memory_budget(uint64_t ram_option) {
  if (ram_option > 0) return {ram_option, "--ram " + gib(ram_option)};
  MemoryBudget budget{mem_available(), "MemAvailable"};
  std::string cgroup_source;
  const std::optional<uint64_t> cgroup =
      cgroup_available_bytes(read_text("/proc/self/cgroup"), "/sys/fs/cgroup", cgroup_source);
  if (cgroup && (!budget.bytes || *cgroup < *budget.bytes)) budget = {cgroup, cgroup_source};
  return budget;
}

std::optional<uint64_t> available_memory_bytes() { return memory_budget().bytes; }

void require_memory(uint64_t bytes, std::optional<uint64_t> available, const std::string& where, const std::string& what,
                    const std::string& advice) {
  if (!available || bytes <= *available) return;
  char message[256];
  std::snprintf(message, sizeof(message), "%s needs %.1f MiB but only %.1f MiB of memory are available", what.c_str(),
                double(bytes) / (1 << 20), double(*available) / (1 << 20));
  throw Error(where, std::string(message) + " (" + advice + ")");
}

}  // namespace smoe
