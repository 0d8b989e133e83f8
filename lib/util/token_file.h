// Token files: little-endian int32 token ids back to back (the reference ppl_windows.i32 format).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smoe {

// Reads every id; throws smoe::Error naming the file when it cannot be read or its size is not a
// multiple of 4.
std::vector<int32_t> read_token_file(const std::string& path);

}  // namespace smoe
