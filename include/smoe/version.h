// Version of the smoe library and of the .smoe container format it reads and writes.
#pragma once

#include <cstdint>

namespace smoe {

inline constexpr const char* kVersionString = "0.1.0";
// The container's format version (docs/FORMAT.md); files of a newer version are refused.
inline constexpr uint32_t kFormatVersion = 2;

}  // namespace smoe
