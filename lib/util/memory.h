// How much memory the system can still give us, to refuse allocations that cannot fit with a
// clear error instead of being killed by the OOM killer half-way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace smoe {

// MemAvailable from /proc/meminfo; std::nullopt where it cannot be read.
std::optional<uint64_t> available_memory_bytes();

// Throws smoe::Error(where, ...) when `bytes` of `what` exceed `available` (when known),
// naming both sizes and `advice`.
void require_memory(uint64_t bytes, std::optional<uint64_t> available, const std::string& where, const std::string& what,
                    const std::string& advice);

}  // namespace smoe
