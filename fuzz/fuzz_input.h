// Shared by the libFuzzer targets: the readers under test take file paths (they memory-map),
// so each input is written to a file in a per-process scratch directory first.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace smoe::fuzz {

inline const std::filesystem::path& scratch_directory() {
  static const std::filesystem::path directory = [] {
    const auto path = std::filesystem::temp_directory_path() / ("smoe-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return directory;
}

// Writes `data` to `name` in the scratch directory and returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch_directory() / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return path;
}

}  // namespace smoe::fuzz
