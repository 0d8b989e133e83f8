// Hashes: XXH3-64 for tensor checksums (fast enough to verify a 26 GB file at memory speed),
// SHA-256 for the provenance of source files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace smoe {

uint64_t xxh3_64(const void* data, size_t bytes);

// Incremental XXH3-64, for data written piece by piece.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void update(const void* data, size_t bytes);
  uint64_t digest() const;

 private:
  void* state_;
};

// Lower-case hex SHA-256 of a whole file, read in chunks; throws smoe::Error naming the path.
std::string sha256_file_hex(const std::string& path);

}  // namespace smoe
