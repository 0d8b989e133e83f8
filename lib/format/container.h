// Read-only view of a .smoe file: maps it, validates its structure in time proportional to
// the number of tensors (never reading tensor data), and hands out pointers into the mapping.
// Immutable after open(): safe to share between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format/layout.h"
#include "format/metadata.h"
#include "quant/formats/tensor_type.h"
#include "util/mapped_file.h"

namespace smoe::format {

struct TensorView {
  std::string name;
  quant::TensorType type;
  std::vector<uint64_t> shape;  // outermost first; a matrix is (rows, columns) however it is stored
  uint64_t offset;              // absolute file offset
  uint64_t bytes;
  uint64_t checksum;            // XXH3-64 recorded by the writer
  const std::byte* data;        // into the mapping
  // 0: each row is contiguous. Otherwise a matrix stored in column panels of this many columns
  // (format version 2, docs/FORMAT.md): columns [p W, (p + 1) W) of every row lie in panel p, a
  // row-major (rows, W) block. Address rows through format/panels.h, never by data + r * stride.
  uint64_t panel_columns = 0;
};

struct ExpertRange {
  uint32_t layer;
  uint32_t expert;
  uint64_t offset;  // page-aligned
  uint64_t bytes;
  const TensorView* w1;
  const TensorView* w3;
  const TensorView* w2;
};

class Container {
 public:
  // Maps and validates `path`; throws smoe::Error naming the file and the problem.
  // `into_memory`: read the file into memory (MappedFile::read_into_memory) instead of mapping it.
  // `progress`: MappedFile::read_into_memory's, when reading into memory.
  static Container open(const std::string& path, bool into_memory = false,
                        const std::function<void(uint64_t, uint64_t)>& progress = {});
  // Replaces the mapping by a copy in memory (MappedFile::read_into_memory) of the whole file,
  // or of everything but the expert ranges, which are then left untouched (no memory; their
  // views must not be read: an expert cache reads them, and failed_checksums() would fail them).
  // `progress` as open()'s. Returns the bytes read.
  uint64_t read_into_memory(bool with_experts, const std::function<void(uint64_t, uint64_t)>& progress = {});
  // Bytes of the file outside expert ranges.
  uint64_t non_expert_bytes() const;

  const std::string& path() const { return file_.path(); }
  uint64_t file_bytes() const { return file_.size(); }
  const FileHeader& header() const { return header_; }
  const Metadata& metadata() const { return metadata_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::vector<ExpertRange>& expert_ranges() const { return experts_; }

  const TensorView* find(std::string_view name) const;
  const TensorView& require(std::string_view name) const;  // throws naming the tensor
  const ExpertRange& expert_range(uint32_t layer, uint32_t expert) const;
  std::span<const std::byte> tokenizer_model() const;
  const MappedFile& mapping() const { return file_; }

  // Recomputes every tensor's checksum; returns the names of those that do not match.
  // Reads the whole file, unlike open(), dropping each tensor's pages from the resident set
  // afterwards (they stay in the page cache).
  std::vector<std::string> failed_checksums() const;

 private:
  Container() = default;
  void read_header();
  void read_metadata();
  void read_tensor_table();
  void check_tensor_overlaps() const;
  void read_expert_table();
  void check_schema() const;

  MappedFile file_;
  FileHeader header_{};
  Metadata metadata_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string, size_t> index_by_name_;
  std::vector<ExpertRange> experts_;  // layer-major: [layer * experts + expert]
};

}  // namespace smoe::format
