// Defensive GGUF parsing: every field read from the file is bounds-checked against the bytes
// left (and a cap) before it is used, and every size is computed with overflow checks.
#include "convert/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "smoe/error.h"
#include "util/checked_math.h"

namespace smoe::convert {
namespace {

static_assert(std::endian::native == std::endian::little, "the GGUF reader loads little-endian fields directly");

constexpr uint32_t kGgufMagic = 0x46554747;                  // "GGUF" read as a little-endian u32
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;            // empty key, type, a one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one dim, type, offset

template <class T>
T load(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// Size of a fixed-size value type; 0 for string and array; std::nullopt for an unknown id.
std::optional<uint32_t> fixed_value_bytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean:
      return 1;
    case GgufValueType::u16:
    case GgufValueType::i16:
      return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32:
      return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64:
      return 8;
    case GgufValueType::string:
    case GgufValueType::array:
      return 0;
  }
  return std::nullopt;
}

// The fewest bytes one value of a known type can occupy (an empty string, an empty array).
uint64_t min_value_bytes(GgufValueType type) {
  if (type == GgufValueType::string) return 8;
  if (type == GgufValueType::array) return 4 + 8;
  return *fixed_value_bytes(type);
}

bool is_integer(GgufValueType type) {
  switch (type) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::u16:
    case GgufValueType::i16:
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::u64:
    case GgufValueType::i64:
      return true;
    default:
      return false;
  }
}

// An integer of any GGUF integer type, widened without loss.
struct WideInteger {
  bool is_signed = false;
  int64_t signed_value = 0;     // when is_signed
  uint64_t unsigned_value = 0;  // when !is_signed
};

WideInteger load_integer(GgufValueType type, const std::byte* at) {
  switch (type) {
    case GgufValueType::u8:
      return {false, 0, load<uint8_t>(at)};
    case GgufValueType::u16:
      return {false, 0, load<uint16_t>(at)};
    case GgufValueType::u32:
      return {false, 0, load<uint32_t>(at)};
    case GgufValueType::u64:
      return {false, 0, load<uint64_t>(at)};
    case GgufValueType::i8:
      return {true, load<int8_t>(at), 0};
    case GgufValueType::i16:
      return {true, load<int16_t>(at), 0};
    case GgufValueType::i32:
      return {true, load<int32_t>(at), 0};
    default:
      return {true, load<int64_t>(at), 0};  // i64; callers check is_integer first
  }
}

// Sequential reader over the mapping; every read checks the bytes left first.
class Cursor {
 public:
  explicit Cursor(const MappedFile& file) : file_(file) {}

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return file_.size() - position_; }

  void need(uint64_t bytes, const std::string& what) const {
    if (bytes > remaining()) {
      throw Error(file_.path(), "truncated: " + what + " at byte " + std::to_string(position_) + " needs " +
                                    std::to_string(bytes) + " bytes, but the file ends at byte " +
                                    std::to_string(file_.size()));
    }
  }

  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    const T value = load<T>(file_.data() + position_);
    position_ += sizeof(T);
    return value;
  }

  void skip(uint64_t bytes, const std::string& what) {
    need(bytes, what);
    position_ += bytes;
  }

  // A gguf string: u64 length, then the bytes. `max_bytes` caps names; values are capped only
  // by the file itself.
  std::string_view read_string(const std::string& what, uint64_t max_bytes = std::numeric_limits<uint64_t>::max()) {
    const uint64_t length = read<uint64_t>(what + " length");
    if (length > max_bytes) {
      throw Error(file_.path(), what + " length " + std::to_string(length) + " exceeds the limit of " +
                                    std::to_string(max_bytes) + " bytes");
    }
    if (length > remaining()) {
      throw Error(file_.path(), what + ": string length " + std::to_string(length) +
                                    " runs past the end of the file (" + std::to_string(remaining()) + " bytes left)");
    }
    const std::string_view text(reinterpret_cast<const char*>(file_.data() + position_), length);
    position_ += length;
    return text;
  }

 private:
  const MappedFile& file_;
  uint64_t position_ = 0;
};

GgufValueType read_value_type(Cursor& cursor, const std::string& path, const std::string& what) {
  const uint32_t id = cursor.read<uint32_t>(what + " value type");
  if (!fixed_value_bytes(GgufValueType(id))) throw Error(path, what + " has unknown value type " + std::to_string(id));
  return GgufValueType(id);
}

void check_boolean(const std::string& path, const std::string& what, uint8_t value) {
  if (value > 1) throw Error(path, what + " has boolean value " + std::to_string(value) + " (expected 0 or 1)");
}

void skip_value(Cursor& cursor, const std::string& path, const std::string& what, GgufValueType type, uint32_t depth);

// Validates the elements of an array whose element type and count were just read.
void skip_array_elements(Cursor& cursor, const std::string& path, const std::string& what, GgufValueType element_type,
                         uint64_t count, uint32_t depth) {
  // Checked before anything is read or allocated: a count of 2^60 fails here, not in a loop.
  if (count > cursor.remaining() / min_value_bytes(element_type)) {
    throw Error(path,
                what + ": array of " + std::to_string(count) + " " + std::string(gguf_value_type_name(element_type)) +
                    " elements runs past the end of the file (" + std::to_string(cursor.remaining()) + " bytes left)");
  }
  const uint32_t element_bytes = *fixed_value_bytes(element_type);
  if (element_bytes != 0 && element_type != GgufValueType::boolean) {
    cursor.skip(count * element_bytes, what + " array");  // count * element_bytes <= remaining, no overflow
    return;
  }
  for (uint64_t i = 0; i < count; ++i) skip_value(cursor, path, what, element_type, depth);
}

// Validates one value of `type` at the cursor and moves past it. `depth` counts the arrays
// this value sits inside.
void skip_value(Cursor& cursor, const std::string& path, const std::string& what, GgufValueType type, uint32_t depth) {
  if (type == GgufValueType::string) {
    cursor.read_string(what);
  } else if (type == GgufValueType::boolean) {
    check_boolean(path, what, cursor.read<uint8_t>(what + " value"));
  } else if (type == GgufValueType::array) {
    if (depth + 1 > kMaxGgufArrayDepth) {
      throw Error(path, what + " has arrays nested deeper than " + std::to_string(kMaxGgufArrayDepth));
    }
    const GgufValueType element_type = read_value_type(cursor, path, what + " array element");
    const uint64_t count = cursor.read<uint64_t>(what + " array count");
    skip_array_elements(cursor, path, what, element_type, count, depth + 1);
  } else {
    cursor.skip(*fixed_value_bytes(type), what + " value");
  }
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

}  // namespace

std::string_view gguf_value_type_name(GgufValueType type) {
  static constexpr std::string_view kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
  const auto id = static_cast<uint32_t>(type);
  return id < std::size(kNames) ? kNames[id] : "unknown";
}

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type) {
  switch (type) {
    case 0:
      return GgmlTypeInfo{"F32", 1, 4};
    case 1:
      return GgmlTypeInfo{"F16", 1, 2};
    case 2:
      return GgmlTypeInfo{"Q4_0", 32, 18};
    case 3:
      return GgmlTypeInfo{"Q4_1", 32, 20};
    case 6:
      return GgmlTypeInfo{"Q5_0", 32, 22};
    case 7:
      return GgmlTypeInfo{"Q5_1", 32, 24};
    case 8:
      return GgmlTypeInfo{"Q8_0", 32, 34};
    case 9:
      return GgmlTypeInfo{"Q8_1", 32, 36};
    case 10:
      return GgmlTypeInfo{"Q2_K", 256, 84};
    case 11:
      return GgmlTypeInfo{"Q3_K", 256, 110};
    case 12:
      return GgmlTypeInfo{"Q4_K", 256, 144};
    case 13:
      return GgmlTypeInfo{"Q5_K", 256, 176};
    case 14:
      return GgmlTypeInfo{"Q6_K", 256, 210};
    case 15:
      return GgmlTypeInfo{"Q8_K", 256, 292};
    case 24:
      return GgmlTypeInfo{"I8", 1, 1};
    case 25:
      return GgmlTypeInfo{"I16", 1, 2};
    case 26:
      return GgmlTypeInfo{"I32", 1, 4};
    case 27:
      return GgmlTypeInfo{"I64", 1, 8};
    case 28:
      return GgmlTypeInfo{"F64", 1, 8};
    case 30:
      return GgmlTypeInfo{"BF16", 1, 2};
    default:
      return std::nullopt;
  }
}

GgufFile GgufFile::open(const std::string& path) {
  GgufFile result;
  result.file_ = MappedFile::open(path);
  result.parse();
  return result;
}

void GgufFile::parse() {
  const std::string& where = path();
  Cursor cursor(file_);

  // Header.
  if (cursor.read<uint32_t>("magic") != kGgufMagic) throw Error(where, "not a GGUF file (bad magic)");
  version_ = cursor.read<uint32_t>("version");
  if (version_ != 0 && (version_ & 0x00FFFFFF) == 0) {
    // A big-endian writer's small version number, read little-endian, lands in the top bytes.
    throw Error(where, "big-endian GGUF is not supported (version reads as " + std::to_string(version_) + ")");
  }
  if (version_ != 2 && version_ != 3) {
    throw Error(where, "GGUF version " + std::to_string(version_) + " is not supported (only versions 2 and 3)");
  }
  const uint64_t tensor_count = cursor.read<uint64_t>("tensor count");
  const uint64_t key_count = cursor.read<uint64_t>("metadata key count");
  if (tensor_count > kMaxGgufTensors) {
    throw Error(where, "tensor count " + std::to_string(tensor_count) + " exceeds the limit of " +
                           std::to_string(kMaxGgufTensors));
  }
  if (key_count > kMaxGgufKeys) {
    throw Error(where, "metadata key count " + std::to_string(key_count) + " exceeds the limit of " +
                           std::to_string(kMaxGgufKeys));
  }
  if (key_count > cursor.remaining() / kMinKeyValueBytes) {
    throw Error(where, "metadata key count " + std::to_string(key_count) + " exceeds what the remaining " +
                           std::to_string(cursor.remaining()) + " bytes can hold (truncated?)");
  }

  // Metadata: validate each value in place and remember where it is.
  entries_.reserve(key_count);
  for (uint64_t i = 0; i < key_count; ++i) {
    Entry entry;
    entry.key = std::string(cursor.read_string("metadata key " + std::to_string(i), kMaxGgufNameBytes));
    const std::string what = "key " + quoted(entry.key);
    if (entry_by_key_.count(entry.key)) throw Error(where, "duplicate key " + quoted(entry.key));
    entry.type = read_value_type(cursor, where, what);
    if (entry.type == GgufValueType::array) {
      entry.element_type = read_value_type(cursor, where, what + " array element");
      entry.count = cursor.read<uint64_t>(what + " array count");
      entry.value_offset = cursor.position();
      skip_array_elements(cursor, where, what, entry.element_type, entry.count, 1);
    } else {
      entry.value_offset = cursor.position();
      skip_value(cursor, where, what, entry.type, 0);
    }
    entry_by_key_.emplace(entry.key, entries_.size());
    entries_.push_back(std::move(entry));
  }

  if (const Entry* entry = find_entry("general.alignment")) {
    if (entry->type != GgufValueType::u32) {
      throw Error(where,
                  "general.alignment has type " + std::string(gguf_value_type_name(entry->type)) + " (expected u32)");
    }
    alignment_ = load<uint32_t>(file_.data() + entry->value_offset);
    if (!std::has_single_bit(alignment_)) {
      throw Error(where, "general.alignment " + std::to_string(alignment_) + " is not a power of two");
    }
  }

  // Tensor infos: shape and type first; data ranges once the data section's start is known.
  if (tensor_count > cursor.remaining() / kMinTensorInfoBytes) {
    throw Error(where, "tensor count " + std::to_string(tensor_count) + " exceeds what the remaining " +
                           std::to_string(cursor.remaining()) + " bytes can hold (truncated?)");
  }
  tensors_.reserve(tensor_count);
  std::vector<uint64_t> relative_offsets;
  relative_offsets.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo tensor;
    tensor.name = std::string(cursor.read_string("tensor name " + std::to_string(i), kMaxGgufNameBytes));
    const std::string what = "tensor " + quoted(tensor.name);
    if (tensor_by_name_.count(tensor.name)) throw Error(where, "duplicate tensor " + quoted(tensor.name));
    const uint32_t n_dims = cursor.read<uint32_t>(what + " dimension count");
    if (n_dims == 0) throw Error(where, what + " has no dimensions");
    if (n_dims > kMaxGgufDims) {
      throw Error(where, what + " has " + std::to_string(n_dims) + " dimensions (at most " +
                             std::to_string(kMaxGgufDims) + ")");
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      tensor.dims.push_back(cursor.read<uint64_t>(what + " dimensions"));
      if (tensor.dims.back() == 0) throw Error(where, what + " has a zero dimension");
      const std::optional<uint64_t> product = checked_mul(elements, tensor.dims.back());
      // ggml counts elements in int64_t.
      if (!product || *product > uint64_t(std::numeric_limits<int64_t>::max())) {
        throw Error(where, what + " element count overflows");
      }
      elements = *product;
    }
    tensor.type = cursor.read<uint32_t>(what + " type");
    const std::optional<GgmlTypeInfo> type = ggml_type_info(tensor.type);
    if (!type) throw Error(where, what + " has unknown ggml type " + std::to_string(tensor.type));
    if (tensor.dims[0] % type->block_elements != 0) {
      throw Error(where, what + " row length " + std::to_string(tensor.dims[0]) + " is not a multiple of the " +
                             std::string(type->name) + " block (" + std::to_string(type->block_elements) + ")");
    }
    const std::optional<uint64_t> bytes = checked_mul(elements / type->block_elements, type->block_bytes);
    if (!bytes) throw Error(where, what + " byte size overflows 64 bits");
    tensor.bytes = *bytes;
    const uint64_t relative_offset = cursor.read<uint64_t>(what + " offset");
    if (relative_offset % alignment_ != 0) {
      throw Error(where, what + " offset is not aligned to " + std::to_string(alignment_) + " (relative offset " +
                             std::to_string(relative_offset) + ")");
    }
    relative_offsets.push_back(relative_offset);
    tensor_by_name_.emplace(tensor.name, tensors_.size());
    tensors_.push_back(std::move(tensor));
  }

  const std::optional<uint64_t> data_offset = checked_align_up(cursor.position(), alignment_);
  if (!data_offset) throw Error(where, "data section offset overflows 64 bits");
  data_offset_ = *data_offset;
  const uint64_t size = file_.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    GgufTensorInfo& tensor = tensors_[i];
    const std::optional<uint64_t> begin = checked_add(data_offset_, relative_offsets[i]);
    const std::optional<uint64_t> end = begin ? checked_add(*begin, tensor.bytes) : std::nullopt;
    if (!end || *end > size) {
      const std::string range = begin
                                    ? "[" + std::to_string(*begin) + ", " + (end ? std::to_string(*end) : "2^64+") + ")"
                                    : "at relative offset " + std::to_string(relative_offsets[i]);
      throw Error(where, "tensor " + quoted(tensor.name) + " data " + range + " runs past the end of the file (" +
                             std::to_string(size) + " bytes)");
    }
    tensor.offset = *begin;
  }

  // No two tensors may share bytes (a reader could otherwise be made to alias writes/reads).
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& tensor : tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->offset + by_offset[i - 1]->bytes > by_offset[i]->offset) {
      throw Error(where,
                  "tensors " + quoted(by_offset[i - 1]->name) + " and " + quoted(by_offset[i]->name) + " overlap");
    }
  }
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_by_name_.find(std::string(name));
  return it == tensor_by_name_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
  return file_.bytes().subspan(tensor.offset, tensor.bytes);
}

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> keys;
  keys.reserve(entries_.size());
  for (const Entry& entry : entries_) keys.push_back(entry.key);
  return keys;
}

const GgufFile::Entry* GgufFile::find_entry(std::string_view key) const {
  const auto it = entry_by_key_.find(std::string(key));
  return it == entry_by_key_.end() ? nullptr : &entries_[it->second];
}

bool GgufFile::has(std::string_view key) const { return find_entry(key) != nullptr; }

std::optional<GgufValueType> GgufFile::type_of(std::string_view key) const {
  const Entry* entry = find_entry(key);
  return entry ? std::optional(entry->type) : std::nullopt;
}

std::optional<GgufValueType> GgufFile::element_type_of(std::string_view key) const {
  const Entry* entry = find_entry(key);
  return entry && entry->type == GgufValueType::array ? std::optional(entry->element_type) : std::nullopt;
}

namespace {

std::string type_description(GgufValueType type, GgufValueType element_type) {
  std::string text(gguf_value_type_name(type));
  if (type == GgufValueType::array) text += " of " + std::string(gguf_value_type_name(element_type));
  return text;
}

}  // namespace

std::optional<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const Entry* entry = find_entry(key);
  if (!entry) return std::nullopt;
  if (!is_integer(entry->type)) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected an unsigned integer)");
  }
  const WideInteger value = load_integer(entry->type, file_.data() + entry->value_offset);
  if (!value.is_signed) return value.unsigned_value;
  if (value.signed_value < 0) {
    throw Error(path(), "key " + quoted(key) + " is negative (" + std::to_string(value.signed_value) + ")");
  }
  return uint64_t(value.signed_value);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Entry* entry = find_entry(key);
  if (!entry) return std::nullopt;
  const std::byte* at = file_.data() + entry->value_offset;
  if (entry->type == GgufValueType::f32) return double(load<float>(at));
  if (entry->type == GgufValueType::f64) return load<double>(at);
  if (!is_integer(entry->type)) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected a number)");
  }
  const WideInteger value = load_integer(entry->type, at);
  return value.is_signed ? double(value.signed_value) : double(value.unsigned_value);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Entry* entry = find_entry(key);
  if (!entry) return std::nullopt;
  if (entry->type != GgufValueType::boolean) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected bool)");
  }
  return load<uint8_t>(file_.data() + entry->value_offset) != 0;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const Entry* entry = find_entry(key);
  if (!entry) return std::nullopt;
  if (entry->type != GgufValueType::string) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected string)");
  }
  const std::byte* at = file_.data() + entry->value_offset;
  return std::string(reinterpret_cast<const char*>(at + 8), load<uint64_t>(at));
}

const GgufFile::Entry* GgufFile::find_array(std::string_view key, std::string_view expected) const {
  const Entry* entry = find_entry(key);
  if (!entry) return nullptr;
  if (entry->type != GgufValueType::array) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected an array of " + std::string(expected) + ")");
  }
  return entry;
}

std::optional<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const Entry* entry = find_array(key, "strings");
  if (!entry) return std::nullopt;
  if (entry->element_type != GgufValueType::string) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected an array of strings)");
  }
  std::vector<std::string> strings;
  strings.reserve(entry->count);  // validated at open: count <= file size / 8
  const std::byte* at = file_.data() + entry->value_offset;
  for (uint64_t i = 0; i < entry->count; ++i) {
    const uint64_t length = load<uint64_t>(at);
    strings.emplace_back(reinterpret_cast<const char*>(at + 8), length);
    at += 8 + length;
  }
  return strings;
}

std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const Entry* entry = find_array(key, "f32 or f64");
  if (!entry) return std::nullopt;
  if (entry->element_type != GgufValueType::f32 && entry->element_type != GgufValueType::f64) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected an array of f32 or f64)");
  }
  std::vector<float> values(entry->count);
  const std::byte* at = file_.data() + entry->value_offset;
  for (uint64_t i = 0; i < entry->count; ++i) {
    values[i] = entry->element_type == GgufValueType::f32 ? load<float>(at + 4 * i) : float(load<double>(at + 8 * i));
  }
  return values;
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const Entry* entry = find_array(key, "integers");
  if (!entry) return std::nullopt;
  if (!is_integer(entry->element_type)) {
    throw Error(path(), "key " + quoted(key) + " has type " + type_description(entry->type, entry->element_type) +
                            " (expected an array of integers)");
  }
  const uint32_t element_bytes = *fixed_value_bytes(entry->element_type);
  std::vector<int64_t> values(entry->count);
  for (uint64_t i = 0; i < entry->count; ++i) {
    const WideInteger value = load_integer(entry->element_type, file_.data() + entry->value_offset + i * element_bytes);
    if (!value.is_signed && value.unsigned_value > uint64_t(std::numeric_limits<int64_t>::max())) {
      throw Error(path(), "key " + quoted(key) + " element " + std::to_string(i) + " (" +
                              std::to_string(value.unsigned_value) + ") does not fit in int64");
    }
    values[i] = value.is_signed ? value.signed_value : int64_t(value.unsigned_value);
  }
  return values;
}

}  // namespace smoe::convert
