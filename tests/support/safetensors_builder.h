// Builds safetensors files for tests, usually by editing the header of a real one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace smoe::test {

struct RawSafetensors {
  nlohmann::json header;    // parsed JSON header, editable
  std::vector<char> data;   // the data section
};

RawSafetensors read_raw_safetensors(const std::string& path);
// Writes header + data; `declared_header_bytes` (if set) replaces the true header length field.
void write_raw_safetensors(const std::string& path, const RawSafetensors& file,
                           std::optional<uint64_t> declared_header_bytes = std::nullopt);

}  // namespace smoe::test
