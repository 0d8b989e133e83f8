// Version of the smoe library and of the .smoe container format it reads and writes.
#pragma once

#include <cstdint>

namespace smoe {

inline constexpr const char* kVersionString = "0.1.0";
// The newest container format version this build reads (docs/FORMAT.md); files of a newer
// version are refused. Version 2 added column panels; files without them are still written as 1.
inline constexpr uint32_t kFormatVersion = 2;

}  // namespace smoe
