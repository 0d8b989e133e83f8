// In-memory GGUF writer for tests (little-endian host assumed, as the reader does).
#include "support/gguf_builder.h"

#include <fstream>
#include <stdexcept>

namespace smoe::test {

using convert::GgufValueType;

namespace {

template <class T>
std::string encode_array(GgufValueType element_type, const std::vector<T>& values) {
  std::string payload = GgufBuilder::array_header(uint32_t(element_type), values.size());
  for (const T& value : values) payload += GgufBuilder::encode(value);
  return payload;
}

}  // namespace

std::string GgufBuilder::encode_string(const std::string& text) { return encode(uint64_t(text.size())) + text; }

std::string GgufBuilder::array_header(uint32_t element_type, uint64_t count) {
  return encode(element_type) + encode(count);
}

GgufBuilder& GgufBuilder::add_raw(const std::string& key, uint32_t type, const std::string& payload) {
  key_values_.push_back({key, type, payload});
  return *this;
}

GgufBuilder& GgufBuilder::add_u8(const std::string& key, uint8_t value) {
  return add_raw(key, uint32_t(GgufValueType::u8), encode(value));
}
GgufBuilder& GgufBuilder::add_i8(const std::string& key, int8_t value) {
  return add_raw(key, uint32_t(GgufValueType::i8), encode(value));
}
GgufBuilder& GgufBuilder::add_u16(const std::string& key, uint16_t value) {
  return add_raw(key, uint32_t(GgufValueType::u16), encode(value));
}
GgufBuilder& GgufBuilder::add_i16(const std::string& key, int16_t value) {
  return add_raw(key, uint32_t(GgufValueType::i16), encode(value));
}
GgufBuilder& GgufBuilder::add_u32(const std::string& key, uint32_t value) {
  return add_raw(key, uint32_t(GgufValueType::u32), encode(value));
}
GgufBuilder& GgufBuilder::add_i32(const std::string& key, int32_t value) {
  return add_raw(key, uint32_t(GgufValueType::i32), encode(value));
}
GgufBuilder& GgufBuilder::add_u64(const std::string& key, uint64_t value) {
  return add_raw(key, uint32_t(GgufValueType::u64), encode(value));
}
GgufBuilder& GgufBuilder::add_i64(const std::string& key, int64_t value) {
  return add_raw(key, uint32_t(GgufValueType::i64), encode(value));
}
GgufBuilder& GgufBuilder::add_f32(const std::string& key, float value) {
  return add_raw(key, uint32_t(GgufValueType::f32), encode(value));
}
GgufBuilder& GgufBuilder::add_f64(const std::string& key, double value) {
  return add_raw(key, uint32_t(GgufValueType::f64), encode(value));
}
GgufBuilder& GgufBuilder::add_bool(const std::string& key, bool value) {
  return add_raw(key, uint32_t(GgufValueType::boolean), encode(uint8_t(value ? 1 : 0)));
}
GgufBuilder& GgufBuilder::add_string(const std::string& key, const std::string& value) {
  return add_raw(key, uint32_t(GgufValueType::string), encode_string(value));
}

GgufBuilder& GgufBuilder::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  std::string payload = array_header(uint32_t(GgufValueType::string), values.size());
  for (const std::string& value : values) payload += encode_string(value);
  return add_raw(key, uint32_t(GgufValueType::array), payload);
}
GgufBuilder& GgufBuilder::add_f32_array(const std::string& key, const std::vector<float>& values) {
  return add_raw(key, uint32_t(GgufValueType::array), encode_array(GgufValueType::f32, values));
}
GgufBuilder& GgufBuilder::add_i32_array(const std::string& key, const std::vector<int32_t>& values) {
  return add_raw(key, uint32_t(GgufValueType::array), encode_array(GgufValueType::i32, values));
}
GgufBuilder& GgufBuilder::add_u64_array(const std::string& key, const std::vector<uint64_t>& values) {
  return add_raw(key, uint32_t(GgufValueType::array), encode_array(GgufValueType::u64, values));
}

GgufBuilder& GgufBuilder::set_alignment(uint32_t alignment) {
  alignment_ = alignment;
  return add_u32("general.alignment", alignment);
}

GgufBuilder::Tensor& GgufBuilder::add_tensor(const std::string& name, const std::vector<uint64_t>& dims,
                                             uint32_t type) {
  Tensor tensor{name, dims, type, {}, std::nullopt};
  if (const auto info = convert::ggml_type_info(type); info && !dims.empty()) {
    uint64_t elements = 1;
    for (uint64_t dim : dims) elements *= dim;
    tensor.data.resize(elements / info->block_elements * info->block_bytes);
    for (size_t i = 0; i < tensor.data.size(); ++i) tensor.data[i] = char((i * 7 + tensors_.size() * 13) & 0x7f);
  }
  tensors_.push_back(std::move(tensor));
  return tensors_.back();
}

std::string GgufBuilder::bytes(Layout* layout) const {
  Layout where;
  std::string out =
      "GGUF" + encode(version_) + encode(uint64_t(tensors_.size())) + encode(uint64_t(key_values_.size()));
  for (const KeyValue& kv : key_values_) {
    where.key_offsets.push_back(out.size());
    out += encode_string(kv.key) + encode(kv.type) + kv.payload;
  }
  // Relative offsets: each tensor's data at the next multiple of the alignment.
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  for (const Tensor& tensor : tensors_) {
    data_bytes = (data_bytes + alignment_ - 1) / alignment_ * alignment_;
    offsets.push_back(data_bytes);
    data_bytes += tensor.data.size();
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& tensor = tensors_[i];
    where.tensor_info_offsets.push_back(out.size());
    out += encode_string(tensor.name) + encode(uint32_t(tensor.dims.size()));
    for (uint64_t dim : tensor.dims) out += encode(dim);
    out += encode(tensor.type) + encode(tensor.offset.value_or(offsets[i]));
  }
  out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, '\0');
  where.data_offset = out.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(where.data_offset + offsets[i], '\0');
    out += tensors_[i].data;
  }
  if (layout) *layout = where;
  return out;
}

std::vector<char> GgufBuilder::byte_vector(Layout* layout) const {
  const std::string text = bytes(layout);
  return {text.begin(), text.end()};
}

void GgufBuilder::write(const std::string& path) const {
  const std::string text = bytes();
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!stream) throw std::runtime_error("cannot write " + path);
}

}  // namespace smoe::test
