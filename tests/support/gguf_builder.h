// Writes small GGUF files in memory for tests. The builder validates nothing: add_raw and the
// public fields of Tensor let a test write any (corrupt) value, and bytes() reports where each
// part landed so a test can patch or truncate a valid file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "convert/gguf_file.h"

namespace smoe::test {

class GgufBuilder {
 public:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;      // dims[0] innermost, as GGUF stores them
    uint32_t type = 0;               // ggml type id
    std::string data;                // written at the next aligned offset of the data section
    std::optional<uint64_t> offset;  // overrides the relative offset written in the info
  };

  // Where the parts of the last bytes() call start (absolute file offsets).
  struct Layout {
    std::vector<uint64_t> key_offsets;          // each key's length field
    std::vector<uint64_t> tensor_info_offsets;  // each tensor info's name length field
    uint64_t data_offset = 0;                   // start of the data section
  };

  explicit GgufBuilder(uint32_t version = 3) : version_(version) {}

  GgufBuilder& add_u8(const std::string& key, uint8_t value);
  GgufBuilder& add_i8(const std::string& key, int8_t value);
  GgufBuilder& add_u16(const std::string& key, uint16_t value);
  GgufBuilder& add_i16(const std::string& key, int16_t value);
  GgufBuilder& add_u32(const std::string& key, uint32_t value);
  GgufBuilder& add_i32(const std::string& key, int32_t value);
  GgufBuilder& add_u64(const std::string& key, uint64_t value);
  GgufBuilder& add_i64(const std::string& key, int64_t value);
  GgufBuilder& add_f32(const std::string& key, float value);
  GgufBuilder& add_f64(const std::string& key, double value);
  GgufBuilder& add_bool(const std::string& key, bool value);
  GgufBuilder& add_string(const std::string& key, const std::string& value);
  GgufBuilder& add_string_array(const std::string& key, const std::vector<std::string>& values);
  GgufBuilder& add_f32_array(const std::string& key, const std::vector<float>& values);
  GgufBuilder& add_i32_array(const std::string& key, const std::vector<int32_t>& values);
  GgufBuilder& add_u64_array(const std::string& key, const std::vector<uint64_t>& values);
  // Any value type id and its encoded payload, written as given.
  GgufBuilder& add_raw(const std::string& key, uint32_t type, const std::string& payload);
  // Adds general.alignment (u32) and lays the data section out with it.
  GgufBuilder& set_alignment(uint32_t alignment);

  // A tensor whose data is a byte pattern of the size its type and dims need (empty for a
  // type ggml_type_info does not know).
  Tensor& add_tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type);
  std::vector<Tensor>& tensors() { return tensors_; }

  std::string bytes(Layout* layout = nullptr) const;
  std::vector<char> byte_vector(Layout* layout = nullptr) const;
  void write(const std::string& path) const;

  // Encodings, for building raw payloads.
  static std::string encode_string(const std::string& text);
  static std::string array_header(uint32_t element_type, uint64_t count);
  template <class T>
  static std::string encode(T value) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
  }

 private:
  struct KeyValue {
    std::string key;
    uint32_t type;
    std::string payload;
  };

  uint32_t version_;
  uint64_t alignment_ = convert::kDefaultGgufAlignment;
  std::vector<KeyValue> key_values_;
  std::vector<Tensor> tensors_;
};

}  // namespace smoe::test
