// Defensive safetensors parsing and row conversion to f32.
#include "convert/safetensors_file.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "quant/formats/half.h"
#include "smoe/error.h"
#include "util/checked_math.h"

namespace smoe::convert {
namespace {

constexpr uint32_t kMaxRank = 8;

SourceTensor parse_entry(const std::string& path, const std::string& name, const nlohmann::json& entry,
                         uint64_t data_begin, uint64_t data_bytes) {
  const auto fail = [&](const std::string& problem) { return Error(path, "tensor '" + name + "': " + problem); };
  if (!entry.is_object()) throw fail("header entry is not an object");
  const auto dtype = entry.find("dtype");
  const auto shape = entry.find("shape");
  const auto offsets = entry.find("data_offsets");
  if (dtype == entry.end() || !dtype->is_string()) throw fail("missing or invalid dtype");
  if (shape == entry.end() || !shape->is_array() || shape->size() > kMaxRank) throw fail("missing or invalid shape");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) throw fail("missing or invalid data_offsets");
  SourceTensor tensor;
  tensor.name = name;
  tensor.dtype = dtype->get<std::string>();
  uint64_t elements = 1;
  for (const nlohmann::json& dim : *shape) {
    if (!dim.is_number_unsigned()) throw fail("shape has a non-integer or negative dimension");
    tensor.shape.push_back(dim.get<uint64_t>());
    const std::optional<uint64_t> product = checked_mul(elements, tensor.shape.back());
    if (!product) throw fail("shape overflows 64 bits");
    elements = *product;
  }
  for (const nlohmann::json& offset : *offsets) {
    if (!offset.is_number_unsigned()) throw fail("data_offsets are not non-negative integers");
  }
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  if (end < begin || end > data_bytes) {
    throw fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
               ") are outside the data section of " + std::to_string(data_bytes) + " bytes");
  }
  tensor.offset = data_begin + begin;
  tensor.bytes = end - begin;
  const uint32_t element_bytes = safetensors_dtype_bytes(tensor.dtype);
  if (element_bytes != 0) {
    const std::optional<uint64_t> expected = checked_mul(elements, element_bytes);
    if (!expected || *expected != tensor.bytes) {
      throw fail("holds " + std::to_string(tensor.bytes) + " bytes, but dtype " + tensor.dtype + " and its shape need " +
                 (expected ? std::to_string(*expected) : std::string("more than 2^64")));
    }
  }
  return tensor;
}

}  // namespace

uint32_t safetensors_dtype_bytes(std::string_view dtype) {
  static constexpr std::pair<std::string_view, uint32_t> kSizes[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
      {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto& [name, bytes] : kSizes) {
    if (name == dtype) return bytes;
  }
  return 0;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile result;
  result.file_ = MappedFile::open(path);
  const uint64_t size = result.file_.size();
  if (size < 8) throw Error(path, "truncated: " + std::to_string(size) + " bytes cannot hold a safetensors header");
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, result.file_.data(), 8);
  if (header_bytes > kMaxSafetensorsHeaderBytes) {
    throw Error(path, "safetensors header length " + std::to_string(header_bytes) + " exceeds the " +
                          std::to_string(kMaxSafetensorsHeaderBytes) + "-byte limit");
  }
  if (!range_within(8, header_bytes, size)) {
    throw Error(path, "safetensors header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                          std::to_string(size) + " bytes)");
  }
  const auto* text = reinterpret_cast<const char*>(result.file_.data() + 8);
  const nlohmann::json header = nlohmann::json::parse(text, text + header_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw Error(path, "safetensors header is not a JSON object");
  const uint64_t data_begin = 8 + header_bytes;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    result.index_by_name_.emplace(name, result.tensors_.size());
    result.tensors_.push_back(parse_entry(path, name, entry, data_begin, size - data_begin));
  }
  // Ranges may not overlap (the format also forbids holes; we tolerate those, they are harmless).
  std::vector<const SourceTensor*> by_offset;
  for (const SourceTensor& tensor : result.tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->offset + by_offset[i - 1]->bytes > by_offset[i]->offset) {
      throw Error(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
    }
  }
  return result;
}

const SourceTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_by_name_.find(std::string(name));
  return it == index_by_name_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::release_rows(const SourceTensor& tensor, uint64_t first_row, uint64_t rows) const {
  const uint64_t total_rows = tensor.shape.size() == 2 ? tensor.shape[0] : 1;
  if (total_rows == 0) return;
  const uint64_t row_bytes = tensor.bytes / total_rows;
  // The kernel's fault-around maps up to 2 MiB of already-cached neighbours with each fault,
  // some of them before this chunk or past the tensor: widen the range so none stay behind.
  constexpr uint64_t kFaultAround = 2ull << 20;
  const uint64_t begin = tensor.offset + first_row * row_bytes;
  const uint64_t end = begin + rows * row_bytes + (first_row + rows == total_rows ? kFaultAround : 0);
  const uint64_t widened_begin = begin > kFaultAround ? begin - kFaultAround : 0;
  file_.release(widened_begin, end - widened_begin);
}

void SafetensorsFile::read_rows_f32(const SourceTensor& tensor, uint64_t first_row, uint64_t rows, float* out) const {
  if (tensor.shape.empty() || tensor.shape.size() > 2) {
    throw Error(path(), "tensor '" + tensor.name + "' has rank " + std::to_string(tensor.shape.size()) + ", expected 1 or 2");
  }
  const uint64_t row_elements = tensor.shape.back();
  const uint64_t total_rows = tensor.shape.size() == 2 ? tensor.shape[0] : 1;
  if (first_row > total_rows || rows > total_rows - first_row) throw Error(path(), "row range outside '" + tensor.name + "'");
  const uint64_t count = rows * row_elements;
  const std::byte* source = file_.data() + tensor.offset;
  if (tensor.dtype == "F32") {
    std::memcpy(out, source + first_row * row_elements * 4, count * 4);
  } else if (tensor.dtype == "BF16" || tensor.dtype == "F16") {
    const bool is_bf16 = tensor.dtype == "BF16";
    const std::byte* begin = source + first_row * row_elements * 2;
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, begin + 2 * i, 2);
      out[i] = is_bf16 ? quant::bf16_to_f32(bits) : quant::f16_to_f32(bits);
    }
  } else {
    throw Error(path(), "tensor '" + tensor.name + "' has unsupported dtype " + tensor.dtype +
                            " (supported: BF16, F16, F32)");
  }
}

}  // namespace smoe::convert
