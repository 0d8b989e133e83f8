// Reading int32 token files.
#include "util/token_file.h"

#include <fstream>

#include "smoe/error.h"

namespace smoe {

std::vector<int32_t> read_token_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary | std::ios::ate);
  if (!stream) throw Error(path, "cannot open");
  const auto bytes = static_cast<size_t>(stream.tellg());
  if (bytes % 4 != 0) throw Error(path, "size " + std::to_string(bytes) + " is not a multiple of 4 (int32 token ids)");
  std::vector<int32_t> tokens(bytes / 4);
  stream.seekg(0);
  if (!stream.read(reinterpret_cast<char*>(tokens.data()), static_cast<std::streamsize>(bytes))) {
    throw Error(path, "read error");
  }
  return tokens;
}

}  // namespace smoe
