// Reader for one GGUF file (llama.cpp's model format, versions 2 and 3, little-endian only):
// a header, typed key/value metadata, tensor infos, then the aligned data section.
//
// Layout: u32 magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count; kv_count
// entries {gguf string key, u32 value type, value}; tensor_count infos {gguf string name,
// u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset relative to the data section}; the
// data section starts at the end of the infos rounded up to general.alignment (default 32).
// A gguf string is a u64 length and that many bytes (no NUL); an array is u32 element type,
// u64 count, then the elements (arrays of arrays allowed).
//
// Every count, length, nesting depth, dimension and offset is checked against the bytes left
// in the file and a cap before it is used or allocated: llama.cpp's own parser had heap
// overflows from exactly these fields. Metadata values stay in the mapping and are decoded
// on request. Immutable after open(), so reading from many threads at once is fine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/mapped_file.h"

namespace smoe::convert {

inline constexpr uint64_t kMaxGgufTensors = 1ull << 20;    // Mixtral 8x22B has ~1,000
inline constexpr uint64_t kMaxGgufKeys = 1ull << 16;       // real files have a few dozen
inline constexpr uint64_t kMaxGgufNameBytes = 1ull << 16;  // keys and tensor names (ggml's own limit is 63)
inline constexpr uint32_t kMaxGgufArrayDepth = 4;          // arrays of arrays, nested at most this deep
inline constexpr uint32_t kMaxGgufDims = 4;                // GGML_MAX_DIMS
inline constexpr uint64_t kDefaultGgufAlignment = 32;      // GGUF_DEFAULT_ALIGNMENT

enum class GgufValueType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12
};

// "u32", "string", ...; "unknown" for an id outside the enum.
std::string_view gguf_value_type_name(GgufValueType type);

// ggml tensor types this build knows the block geometry of.
struct GgmlTypeInfo {
  std::string_view name;    // as llama.cpp spells it: "Q4_K", "BF16", ...
  uint32_t block_elements;  // elements per block (1 for plain types)
  uint32_t block_bytes;     // bytes per block
};
// F32=0, F16=1, Q4_0=2, Q4_1=3, Q5_0=6, Q5_1=7, Q8_0=8, Q8_1=9, Q2_K..Q8_K=10..15, I8=24,
// I16=25, I32=26, I64=27, F64=28, BF16=30; std::nullopt for any other id.
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type);

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // as stored: dims[0] = ne0, the innermost (row) length
  uint32_t type = 0;           // ggml type id
  uint64_t offset = 0;         // absolute offset in the file (data section start + relative offset)
  uint64_t bytes = 0;          // size of the tensor's data
};

class GgufFile {
 public:
  // Maps `path` and validates the header, all metadata and all tensor infos; throws
  // smoe::Error naming the file and the problem.
  static GgufFile open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const MappedFile& mapping() const { return file_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }      // general.alignment or 32
  uint64_t data_offset() const { return data_offset_; }  // where the data section starts
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent
  // The tensor's bytes in the mapping (validated at open to lie inside the file).
  std::span<const std::byte> tensor_data(const GgufTensorInfo& tensor) const;

  // Metadata keys in file order.
  std::vector<std::string> keys() const;
  bool has(std::string_view key) const;
  // The stored type of `key` (std::nullopt when absent); for arrays, also the element type.
  std::optional<GgufValueType> type_of(std::string_view key) const;
  std::optional<GgufValueType> element_type_of(std::string_view key) const;

  // Typed accessors: std::nullopt when the key is absent; smoe::Error (naming the file and
  // key) when it exists with an incompatible type. get_uint accepts any integer type with a
  // non-negative value; get_float accepts f32/f64 and integers; get_bool accepts boolean.
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // Arrays: std::nullopt when absent; an error when not an array of a compatible element type.
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;  // f32/f64 elements
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;  // any integer elements

  // Drops the pages of [offset, offset + bytes) from the resident set once a streaming reader
  // has converted them (they stay in the page cache; a later read faults them back in).
  void release(uint64_t offset, uint64_t bytes) const { file_.release(offset, bytes); }

 private:
  // One metadata entry; the value itself stays in the mapping.
  struct Entry {
    std::string key;
    GgufValueType type = GgufValueType::u8;
    GgufValueType element_type = GgufValueType::u8;  // arrays only
    uint64_t count = 0;                              // arrays only: element count
    uint64_t value_offset = 0;                       // scalars/strings: the value; arrays: the first element
  };

  const Entry* find_entry(std::string_view key) const;
  const Entry* find_array(std::string_view key, std::string_view expected) const;
  void parse();

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultGgufAlignment;
  uint64_t data_offset_ = 0;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> entry_by_key_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_by_name_;
};

}  // namespace smoe::convert
