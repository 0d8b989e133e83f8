// Layout planning and crash-safe writing of .smoe files.
#include "convert/container_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "convert/interrupt_cleanup.h"
#include "quant/formats/interleave.h"
#include "smoe/error.h"
#include "smoe/version.h"
#include "util/checked_math.h"

namespace smoe::convert {
namespace fs = std::filesystem;

using format::ExpertRangeRecord;
using format::FileHeader;
using format::TensorRecord;

namespace {

uint64_t align_or_throw(uint64_t value, uint64_t alignment, const std::string& where) {
  const std::optional<uint64_t> aligned = checked_align_up(value, alignment);
  if (!aligned) throw Error(where, "file layout overflows 64 bits");
  return *aligned;
}

bool starts_expert(const PlannedTensor& tensor) { return tensor.expert >= 0 && tensor.name.ends_with(".w1"); }

}  // namespace

format::FileHeader plan_file_layout(uint64_t metadata_bytes, std::vector<PlannedTensor>& tensors,
                                    const std::string& where) {
  FileHeader header{};
  std::memcpy(header.magic, format::kMagic, sizeof(header.magic));
  // Version 1 unless a tensor is stored in panels: older builds still read such files.
  header.version = 1;
  header.header_bytes = sizeof(FileHeader);
  header.metadata_offset = sizeof(FileHeader);
  header.metadata_bytes = metadata_bytes;
  header.tensor_table_offset = header.metadata_offset + header.metadata_bytes;
  header.tensor_count = tensors.size();
  header.expert_table_offset = header.tensor_table_offset + tensors.size() * sizeof(TensorRecord);
  uint64_t experts = 0;
  for (const PlannedTensor& tensor : tensors) experts += starts_expert(tensor) ? 1 : 0;
  header.expert_count = experts;
  header.expert_alignment = format::kExpertAlignment;
  header.data_offset =
      align_or_throw(header.expert_table_offset + experts * sizeof(ExpertRangeRecord), format::kTensorAlignment, where);
  uint64_t cursor = header.data_offset;
  bool after_expert = false;
  for (PlannedTensor& tensor : tensors) {
    if (tensor.name.size() >= format::kNameBytes) throw Error(where, "tensor name too long: " + tensor.name);
    const std::optional<uint64_t> bytes = quant::tensor_bytes(tensor.type, tensor.shape);
    if (!bytes)
      throw Error(where,
                  "tensor '" + tensor.name + "' does not fit type " + std::string(quant::type_name(tensor.type)));
    if (quant::type_traits(tensor.type).row_group > 1 && tensor.shape.size() != 2) {
      throw Error(where, "tensor '" + tensor.name + "' of type " + std::string(quant::type_name(tensor.type)) +
                             " must be a matrix");
    }
    if (tensor.panel_columns != 0) {
      const quant::TypeTraits& traits = quant::type_traits(tensor.type);
      if (!traits.is_quantized || tensor.shape.size() != 2 || tensor.panel_columns % traits.block_elements != 0 ||
          tensor.shape[1] % tensor.panel_columns != 0 || tensor.shape[1] == tensor.panel_columns) {
        throw Error(where, "tensor '" + tensor.name + "' cannot be stored in panels of " +
                               std::to_string(tensor.panel_columns) + " columns");
      }
      header.version = 2;  // panels are new in version 2
    }
    // Expert ranges start on, and are followed by, an expert-alignment boundary: no other tensor
    // shares their pages, so touching a neighbour never faults an unchosen expert in.
    const bool own_pages = starts_expert(tensor) || (after_expert && tensor.expert < 0);
    const uint64_t alignment = own_pages ? format::kExpertAlignment : format::kTensorAlignment;
    after_expert = tensor.expert >= 0;
    tensor.offset = align_or_throw(cursor, alignment, where);
    tensor.bytes = *bytes;
    const std::optional<uint64_t> end = checked_add(tensor.offset, tensor.bytes);
    if (!end) throw Error(where, "file layout overflows 64 bits");
    cursor = *end;
  }
  header.file_bytes = cursor;
  return header;
}

uint64_t non_expert_bytes(const format::FileHeader& header, const std::vector<PlannedTensor>& tensors) {
  uint64_t expert_bytes = 0;
  for (size_t i = 0; i + 2 < tensors.size(); ++i) {
    if (starts_expert(tensors[i])) expert_bytes += tensors[i + 2].offset + tensors[i + 2].bytes - tensors[i].offset;
  }
  return header.file_bytes - std::min(header.file_bytes, expert_bytes);
}

ContainerWriter::ContainerWriter(std::string output_path, const format::Metadata& metadata,
                                 std::vector<PlannedTensor> tensors)
    : output_path_(std::move(output_path)), tensors_(std::move(tensors)) {
  metadata_json_ = format::metadata_to_json(metadata).dump();
  header_ = plan_file_layout(metadata_json_.size(), tensors_, output_path_);
  checksums_.assign(tensors_.size(), 0);
  std::error_code error;
  if (fs::is_directory(output_path_, error)) throw Error(output_path_, "output path is a directory");
  fs::path directory = fs::path(output_path_).parent_path();
  if (directory.empty()) directory = ".";
  std::string pattern = (directory / (fs::path(output_path_).filename().string() + ".tmp-XXXXXX")).string();
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0) throw Error(output_path_, std::string("cannot create the output file: ") + std::strerror(errno));
  temporary_path_ = pattern;
  try {
    register_temporary_file(temporary_path_);
    ::fchmod(fd_, 0644);
    if (::ftruncate(fd_, static_cast<off_t>(header_.file_bytes)) != 0) {
      throw Error(output_path_, "cannot size the output file to " + std::to_string(header_.file_bytes) +
                                    " bytes: " + std::strerror(errno));
    }
  } catch (...) {
    // A constructor that throws gets no destructor: the temporary file goes here.
    ::close(fd_);
    fd_ = -1;
    ::unlink(temporary_path_.c_str());
    unregister_temporary_file(temporary_path_);
    throw;
  }
  current_hash_ = std::make_unique<Xxh3Stream>();
}

ContainerWriter::~ContainerWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_ && !temporary_path_.empty()) {
    ::unlink(temporary_path_.c_str());
    unregister_temporary_file(temporary_path_);
  }
}

void ContainerWriter::write_at(uint64_t offset, const void* data, size_t bytes) {
  const auto* cursor = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t written = ::pwrite(fd_, cursor, bytes, static_cast<off_t>(offset));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw Error(output_path_, std::string("write failed: ") + std::strerror(errno));
    cursor += written;
    offset += static_cast<uint64_t>(written);
    bytes -= static_cast<size_t>(written);
  }
}

void ContainerWriter::append(size_t index, const void* data, size_t bytes) {
  if (index != current_ || index >= tensors_.size()) throw Error(output_path_, "tensors written out of order");
  const PlannedTensor& tensor = tensors_[index];
  if (bytes > tensor.bytes - current_written_) throw Error(output_path_, "too many bytes for '" + tensor.name + "'");
  if (rearranged(tensor)) {
    pending_.insert(pending_.end(), static_cast<const std::byte*>(data), static_cast<const std::byte*>(data) + bytes);
    current_written_ += bytes;
    write_pending_rows(tensor);
  } else {
    write_at(tensor.offset + current_written_, data, bytes);
    current_hash_->update(data, bytes);
    current_written_ += bytes;
  }
  if (current_written_ == tensor.bytes) {
    if (rearranged(tensor)) hash_stored(tensor);
    checksums_[index] = current_hash_->digest();
    current_hash_ = std::make_unique<Xxh3Stream>();
    ++current_;
    current_written_ = 0;
  }
}

// Writes the whole rows (whole groups of interleaved rows) pending for `tensor`, stored in
// column panels and/or with rows interleaved (q4k_x8, q8_x8: the appended q4k / q8 rows
// interleaved by eight, panel by panel): rows [first, first + n) are one contiguous range in
// each panel, so a chunk of rows costs one write per panel and memory of about one chunk (the
// caller's), never the tensor. A partial row or group waits for the next append.
void ContainerWriter::write_pending_rows(const PlannedTensor& tensor) {
  const uint64_t rows = tensor.shape[0], columns = tensor.shape[1];
  const uint64_t width = tensor.panel_columns != 0 ? tensor.panel_columns : columns, panels = columns / width;
  const uint64_t group = quant::type_traits(tensor.type).row_group;
  const uint64_t row_bytes = tensor.bytes / rows, piece = row_bytes / panels, panel_bytes = tensor.bytes / panels;
  // Rows before `first` are written: every appended byte but the pending ones.
  const uint64_t whole_rows = pending_.size() / row_bytes, count = whole_rows - whole_rows % group;
  const uint64_t first = (current_written_ - pending_.size()) / row_bytes;
  if (count == 0) return;
  std::vector<std::byte> panel(count * piece);
  for (uint64_t p = 0; p < panels; ++p) {
    if (group == 1) {
      for (uint64_t r = 0; r < count; ++r) std::memcpy(&panel[r * piece], &pending_[r * row_bytes + p * piece], piece);
    } else {
      for (uint64_t g = 0; g < count / group; ++g) {
        const std::byte* group_rows[quant::kMaxRowGroup];
        for (uint64_t r = 0; r < group; ++r) group_rows[r] = &pending_[(g * group + r) * row_bytes + p * piece];
        quant::interleave_rows(tensor.type, group_rows, &panel[g * group * piece], width);
      }
    }
    write_at(tensor.offset + p * panel_bytes + first * piece, panel.data(), panel.size());
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count * row_bytes));
}

// The checksum of a paneled tensor covers its bytes as stored: read back in chunks once the
// tensor is complete (from the page cache).
void ContainerWriter::hash_stored(const PlannedTensor& tensor) {
  if (!pending_.empty()) throw Error(output_path_, "tensor '" + tensor.name + "' ended inside a row");
  constexpr uint64_t kReadBytes = 4u << 20;
  std::vector<std::byte> chunk(std::min(kReadBytes, tensor.bytes));
  for (uint64_t done = 0; done < tensor.bytes;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), tensor.bytes - done));
    const ssize_t got = ::pread(fd_, chunk.data(), want, static_cast<off_t>(tensor.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw Error(output_path_, std::string("cannot read back a written tensor: ") + std::strerror(errno));
    current_hash_->update(chunk.data(), static_cast<size_t>(got));
    done += static_cast<uint64_t>(got);
  }
}

void ContainerWriter::finish() {
  if (current_ != tensors_.size()) throw Error(output_path_, "finish() before every tensor was written");
  std::vector<char> index(header_.data_offset - header_.metadata_offset, 0);
  std::memcpy(index.data(), metadata_json_.data(), metadata_json_.size());
  char* table = index.data() + (header_.tensor_table_offset - header_.metadata_offset);
  char* expert_table = index.data() + (header_.expert_table_offset - header_.metadata_offset);
  uint64_t expert = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const PlannedTensor& tensor = tensors_[i];
    TensorRecord record{};
    std::memcpy(record.name, tensor.name.data(), tensor.name.size());
    record.type = static_cast<uint32_t>(tensor.type);
    // A paneled matrix's record is (panels, rows, panel columns) (docs/FORMAT.md).
    const std::vector<uint64_t> shape =
        tensor.panel_columns == 0
            ? tensor.shape
            : std::vector<uint64_t>{tensor.shape[1] / tensor.panel_columns, tensor.shape[0], tensor.panel_columns};
    record.n_dims = static_cast<uint32_t>(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) record.shape[d] = shape[d];
    record.offset = tensor.offset;
    record.bytes = tensor.bytes;
    record.checksum = checksums_[i];
    std::memcpy(table + i * sizeof(TensorRecord), &record, sizeof(record));
    if (starts_expert(tensor)) {
      if (i + 2 >= tensors_.size()) throw Error(output_path_, "expert '" + tensor.name + "' lacks w3/w2");
      const PlannedTensor& w2 = tensors_[i + 2];
      ExpertRangeRecord range{};
      range.layer = static_cast<uint32_t>(tensor.layer);
      range.expert = static_cast<uint32_t>(tensor.expert);
      range.offset = tensor.offset;
      range.bytes = w2.offset + w2.bytes - tensor.offset;
      range.first_tensor = static_cast<uint32_t>(i);
      std::memcpy(expert_table + expert++ * sizeof(ExpertRangeRecord), &range, sizeof(range));
    }
  }
  header_.index_checksum = xxh3_64(index.data(), index.size());
  write_at(header_.metadata_offset, index.data(), index.size());
  // The header (with the magic) goes last: until it is written the file is not a .smoe file.
  if (::fsync(fd_) != 0) throw Error(output_path_, std::string("fsync failed: ") + std::strerror(errno));
  write_at(0, &header_, sizeof(header_));
  if (::fsync(fd_) != 0) throw Error(output_path_, std::string("fsync failed: ") + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::rename(temporary_path_.c_str(), output_path_.c_str()) != 0) {
    throw Error(output_path_, std::string("cannot rename the finished file into place: ") + std::strerror(errno));
  }
  finished_ = true;
  unregister_temporary_file(temporary_path_);
}

}  // namespace smoe::convert
