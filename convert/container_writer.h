// Writes a .smoe container: plans the layout up front (sizes are known from types and
// shapes), streams each tensor's bytes in order while hashing them, then writes the tables
// and, last, the header. Output goes to a temporary file in the destination directory and is
// renamed into place by finish(): an interrupted or failed run never leaves a file that looks
// valid. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/layout.h"
#include "format/metadata.h"
#include "quant/formats/tensor_type.h"
#include "util/hashing.h"

namespace smoe::convert {

struct PlannedTensor {
  std::string name;
  quant::TensorType type;
  std::vector<uint64_t> shape;
  int32_t layer = -1;   // with expert >= 0: part of that expert's range
  int32_t expert = -1;
  // Store in column panels of this many columns (format/panels.h; 0: contiguous rows). The
  // tensor is still appended in row order; the writer puts each chunk of rows into the panels.
  uint64_t panel_columns = 0;
  uint64_t offset = 0;  // filled in by the writer
  uint64_t bytes = 0;   // filled in by the writer
};

// The layout of a file holding `tensors` after `metadata_bytes` of metadata JSON: the header,
// and each tensor's offset and bytes filled in. Throws smoe::Error naming `where` for a tensor
// its type cannot hold or a layout beyond 64 bits. ContainerWriter writes exactly this layout;
// the converter also plans with it before writing (expert_tiers.h).
format::FileHeader plan_file_layout(uint64_t metadata_bytes, std::vector<PlannedTensor>& tensors,
                                    const std::string& where);

// The bytes of a laid-out file outside its expert ranges (each from its w1's offset to its w2's
// end), as format::Container::non_expert_bytes() will count them.
uint64_t non_expert_bytes(const format::FileHeader& header, const std::vector<PlannedTensor>& tensors);

class ContainerWriter {
 public:
  // Plans the layout of `tensors` (each expert's w1, w3, w2 must be consecutive, in that order)
  // and creates the temporary file next to `output_path`. Throws smoe::Error.
  ContainerWriter(std::string output_path, const format::Metadata& metadata, std::vector<PlannedTensor> tensors);
  ~ContainerWriter();  // removes the temporary file unless finish() succeeded
  ContainerWriter(const ContainerWriter&) = delete;
  ContainerWriter& operator=(const ContainerWriter&) = delete;

  const std::vector<PlannedTensor>& tensors() const { return tensors_; }
  uint64_t file_bytes() const { return header_.file_bytes; }
  const std::string& temporary_path() const { return temporary_path_; }

  // Appends bytes to tensor `index`: its rows in order, whatever its panels, as rows of
  // quant::row_type (q4k / q8 rows for q4k_x8 / q8_x8, which the writer interleaves); tensors
  // are written in plan order, each completely.
  void append(size_t index, const void* data, size_t bytes);
  // Writes tables and header, flushes to disk and renames to the output path.
  void finish();

 private:
  void write_at(uint64_t offset, const void* data, size_t bytes);
  // Whether `tensor`'s rows are rearranged on the way to the file (column panels, interleaving):
  // then they pass through pending_ and the checksum is taken of the bytes as stored.
  static bool rearranged(const PlannedTensor& tensor) {
    return tensor.panel_columns != 0 || quant::type_traits(tensor.type).row_group > 1;
  }
  void write_pending_rows(const PlannedTensor& tensor);
  void hash_stored(const PlannedTensor& tensor);

  std::string output_path_;
  std::string temporary_path_;
  int fd_ = -1;
  bool finished_ = false;
  std::string metadata_json_;
  std::vector<PlannedTensor> tensors_;
  std::vector<uint64_t> checksums_;
  format::FileHeader header_{};
  size_t current_ = 0;           // tensor being written
  uint64_t current_written_ = 0;  // its bytes so far
  std::unique_ptr<Xxh3Stream> current_hash_;
  std::vector<std::byte> pending_;  // appended bytes of a rearranged tensor not yet written (< one chunk)
};

}  // namespace smoe::convert
