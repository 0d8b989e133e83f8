// Raw safetensors read/write for building good and bad test inputs.
#include "support/safetensors_builder.h"

#include <cstring>

#include "support/temp_dir.h"

namespace smoe::test {

RawSafetensors read_raw_safetensors(const std::string& path) {
  const std::vector<char> bytes = read_file(path);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  RawSafetensors file;
  file.header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_bytes));
  file.data.assign(bytes.begin() + 8 + static_cast<long>(header_bytes), bytes.end());
  return file;
}

void write_raw_safetensors(const std::string& path, const RawSafetensors& file, std::optional<uint64_t> declared_header_bytes) {
  const std::string header = file.header.dump();
  const uint64_t length = declared_header_bytes.value_or(header.size());
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &length, 8);
  bytes += header;
  bytes.append(file.data.begin(), file.data.end());
  write_file(path, {bytes.begin(), bytes.end()});
}

}  // namespace smoe::test
