// On-disk structures of the .smoe container, declared once for the reader (lib/format) and
// the writer (convert/). docs/FORMAT.md specifies the same bytes in prose.
//
// File: [FileHeader][metadata JSON][TensorRecord x tensor_count][ExpertRangeRecord x expert_count]
//       [padding][tensor data ...]. All integers little-endian; all offsets absolute.
#pragma once

#include <cstdint>

namespace smoe::format {

inline constexpr char kMagic[8] = {'S', 'M', 'O', 'E', '\r', '\n', 0x1a, '\n'};
inline constexpr uint64_t kTensorAlignment = 64;    // every tensor's offset
inline constexpr uint64_t kExpertAlignment = 65536;  // every expert range: a page on any Linux
inline constexpr uint32_t kMaxDims = 4;
inline constexpr uint32_t kNameBytes = 64;           // NUL-terminated, NUL-padded
inline constexpr uint64_t kMaxMetadataBytes = 16ull << 20;
inline constexpr uint64_t kMaxTensorCount = 1ull << 20;

struct FileHeader {
  char magic[8];                 // kMagic
  uint32_t version;              // format version (smoe::kFormatVersion)
  uint32_t header_bytes;         // sizeof(FileHeader)
  uint64_t file_bytes;           // total size of the file: catches truncation and appended data
  uint64_t metadata_offset;      // UTF-8 JSON object (docs/FORMAT.md, "Metadata")
  uint64_t metadata_bytes;
  uint64_t tensor_table_offset;  // TensorRecord[tensor_count]
  uint64_t tensor_count;
  uint64_t expert_table_offset;  // ExpertRangeRecord[expert_count]
  uint64_t expert_count;
  uint64_t data_offset;          // first byte of tensor data; every tensor lies at or after it
  uint64_t expert_alignment;     // alignment of every expert range (power of two >= 4096)
  uint64_t index_checksum;       // XXH3-64 of bytes [metadata_offset, data_offset)
};
static_assert(sizeof(FileHeader) == 96, "FileHeader is part of the file format");

struct TensorRecord {
  char name[kNameBytes];    // canonical name, e.g. "layers.0.experts.3.w1"
  uint32_t type;            // smoe::quant::TensorType id
  uint32_t n_dims;          // 1..kMaxDims
  uint64_t shape[kMaxDims]; // outermost first; rows run along shape[n_dims - 1]; unused = 0
  uint64_t offset;          // absolute, multiple of kTensorAlignment
  uint64_t bytes;           // exactly quant::tensor_bytes(type, shape)
  uint64_t checksum;        // XXH3-64 of the tensor's bytes
};
static_assert(sizeof(TensorRecord) == 128, "TensorRecord is part of the file format");

// One expert's three matrices, w1, w3 and w2, stored back to back (each 64-byte aligned) from
// a page-aligned offset, so the expert can be prefetched, madvised or copied in one operation.
struct ExpertRangeRecord {
  uint32_t layer;
  uint32_t expert;
  uint64_t offset;        // multiple of FileHeader::expert_alignment; == offset of w1
  uint64_t bytes;         // from w1's first byte to w2's last byte
  uint32_t first_tensor;  // index of w1 in the tensor table; w3 and w2 follow at +1, +2
  uint32_t reserved;      // 0
};
static_assert(sizeof(ExpertRangeRecord) == 32, "ExpertRangeRecord is part of the file format");

}  // namespace smoe::format
