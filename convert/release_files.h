// Small files of a model release (JSON configs, tokenizer models), read with size caps, and
// typed fields of JSON configs with errors that name the file and the field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace smoe::convert {

inline constexpr uint64_t kMaxJsonFileBytes = 64ull << 20;
inline constexpr uint64_t kMaxTokenizerBytes = 256ull << 20;

// The whole file; throws smoe::Error when it is missing, unreadable or larger than `max_bytes`.
std::string read_small_file(const std::string& path, uint64_t max_bytes);
// A JSON object from `path`; throws on malformed JSON or a non-object.
nlohmann::json read_json_file(const std::string& path);
// A non-negative integer field (the first element when it is a list); `fallback` when absent or
// null, an error without one.
uint32_t config_u32(const nlohmann::json& config, const char* key, const std::string& path,
                    std::optional<uint32_t> fallback = std::nullopt);
// A number field; `fallback` when absent or null.
double config_double(const nlohmann::json& config, const char* key, const std::string& path, double fallback);
// A string field and a boolean field; `fallback` when absent or null, an error naming the field
// when it has another type (nlohmann's value() would throw its own exception instead).
std::string config_string(const nlohmann::json& config, const char* key, const std::string& path,
                          const std::string& fallback);
bool config_bool(const nlohmann::json& config, const char* key, const std::string& path, bool fallback);

}  // namespace smoe::convert
