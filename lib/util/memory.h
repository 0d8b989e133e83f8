// How much memory this process can still get, to decide up front (read the weights or map
// them, size the KV cache) and refuse what cannot fit with a clear error instead of being
// killed by the OOM killer half-way. Inside a container or a memory cgroup that is the cgroup's
// limit, not the machine's free memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace smoe {

struct MemoryBudget {
  std::optional<uint64_t> bytes;  // what may still be allocated; std::nullopt where nothing can be read
  std::string source;             // where it came from: "MemAvailable", "cgroup v2 limit 1.2 GiB", "--ram"
};

// What the memory cgroup of this process still allows: for each cgroup from the process's own up
// to the root, its limit (v2 memory.max, v1 memory.limit_in_bytes) minus its usage, plus the
// file pages it could drop (inactive_file), the smallest of them; std::nullopt without a limit.
// `proc_self_cgroup` is /proc/self/cgroup's text, `root` the cgroup filesystem (/sys/fs/cgroup):
// parameters so tests can give a tree of their own. `source` gets a description.
std::optional<uint64_t> cgroup_available_bytes(std::string_view proc_self_cgroup, const std::filesystem::path& root,
                                               std::string& source);

// The budget: `ram_option` when given (ModelOptions::ram_budget, --ram), else the smaller of
// MemAvailable and the cgroup's allowance.
MemoryBudget memory_budget(uint64_t ram_option = 0);

// memory_budget().bytes.
std::optional<uint64_t> available_memory_bytes();

// Throws smoe::Error(where, ...) when `bytes` of `what` exceed `available` (when known),
// naming both sizes and `advice`.
void require_memory(uint64_t bytes, std::optional<uint64_t> available, const std::string& where, const std::string& what,
                    const std::string& advice);

}  // namespace smoe
