// Test helpers: a temporary directory removed at scope exit, file I/O, and the tiny model.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace smoe::test {

// Path of the bundled tiny model (tests/data/mixtral-tiny).
std::string tiny_model_dir();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Entries currently in the directory (to check that nothing was left behind).
  std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

std::vector<char> read_file(const std::string& path);
void write_file(const std::string& path, const std::vector<char>& bytes);
void write_text(const std::string& path, const std::string& text);

// Fills `dir` with symlinks to the tiny model's files, so a test can replace one file.
void link_tiny_model(const TempDir& dir);

}  // namespace smoe::test
