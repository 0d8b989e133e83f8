// Test helpers for temporary directories and files.
#include "support/temp_dir.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace smoe::test {
namespace fs = std::filesystem;

std::string tiny_model_dir() { return std::string(SMOE_TEST_DATA_DIR) + "/mixtral-tiny"; }

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "smoe-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path_)) names.push_back(entry.path().filename().string());
  return names;
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!stream) throw std::runtime_error("cannot write " + path);
}

void write_text(const std::string& path, const std::string& text) { write_file(path, {text.begin(), text.end()}); }

void link_tiny_model(const TempDir& dir) {
  for (const char* name : {"config.json", "tokenizer.model", "tokenizer_config.json", "model.safetensors"}) {
    fs::create_symlink(fs::absolute(fs::path(tiny_model_dir()) / name), dir.path() / name);
  }
}

}  // namespace smoe::test
