// Random identifiers for responses and tool calls: `prefix` then `count` letters and digits.
#pragma once

#include <cstddef>
#include <string>

namespace smoe::server {

std::string random_id(const char* prefix, size_t count);

}  // namespace smoe::server
