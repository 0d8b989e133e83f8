// Reading small release files and JSON config fields.
#include "convert/release_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "smoe/error.h"

namespace smoe::convert {
namespace fs = std::filesystem;

std::string read_small_file(const std::string& path, uint64_t max_bytes) {
  std::error_code error;
  const uint64_t size = fs::file_size(path, error);
  if (error) throw Error(path, "cannot read: " + error.message());
  if (size > max_bytes) throw Error(path, "file of " + std::to_string(size) + " bytes is larger than expected");
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(path, "cannot open");
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_small_file(path, kMaxJsonFileBytes);
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) throw Error(path, "malformed JSON");
  if (!json.is_object()) throw Error(path, "expected a JSON object");
  return json;
}

uint32_t config_u32(const nlohmann::json& config, const char* key, const std::string& path,
                    std::optional<uint32_t> fallback) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) {
    if (fallback) return *fallback;
    throw Error(path, std::string("missing field '") + key + "'");
  }
  const nlohmann::json& value = it->is_array() && !it->empty() ? it->front() : *it;  // eos may be a list
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > UINT32_MAX) {
    throw Error(path, std::string("field '") + key + "' is not a non-negative integer: " + it->dump());
  }
  return value.get<uint32_t>();
}

double config_double(const nlohmann::json& config, const char* key, const std::string& path, double fallback) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw Error(path, std::string("field '") + key + "' is not a number: " + it->dump());
  return it->get<double>();
}

std::string config_string(const nlohmann::json& config, const char* key, const std::string& path,
                          const std::string& fallback) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_string()) throw Error(path, std::string("field '") + key + "' is not a string: " + it->dump());
  return it->get<std::string>();
}

bool config_bool(const nlohmann::json& config, const char* key, const std::string& path, bool fallback) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw Error(path, std::string("field '") + key + "' is not true or false: " + it->dump());
  return it->get<bool>();
}

}  // namespace smoe::convert
