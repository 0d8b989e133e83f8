// Structural validation of .smoe files. Order matters: each check only relies on facts the
// checks before it established, and no size is used before it is checked (docs/SECURITY.md).
#include "format/container.h"

#include <algorithm>
#include <cstring>

#include "format/tensor_schema.h"
#include "smoe/error.h"
#include "smoe/version.h"
#include "util/checked_math.h"
#include "util/hashing.h"

namespace smoe::format {
namespace {

std::string in_quotes(std::string_view name) { return "'" + std::string(name) + "'"; }

// Checks that [offset, offset + count * record_bytes) is a section inside the file.
void check_section(const std::string& path, const char* what, uint64_t offset, uint64_t count,
                   uint64_t record_bytes, uint64_t file_bytes) {
  const std::optional<uint64_t> bytes = checked_mul(count, record_bytes);
  if (!bytes || !range_within(offset, *bytes, file_bytes)) {
    throw Error(path, std::string(what) + " (offset " + std::to_string(offset) + ", " + std::to_string(count) +
                          " x " + std::to_string(record_bytes) + " bytes) lies outside the file of " +
                          std::to_string(file_bytes) + " bytes");
  }
}

}  // namespace

Container Container::open(const std::string& path, bool into_memory,
                          const std::function<void(uint64_t, uint64_t)>& progress) {
  Container container;
  container.file_ = into_memory ? MappedFile::read_into_memory(path, progress) : MappedFile::open(path);
  container.read_header();
  container.read_metadata();
  container.read_tensor_table();
  container.check_tensor_overlaps();
  container.read_expert_table();
  container.check_schema();
  return container;
}

uint64_t Container::non_expert_bytes() const {
  uint64_t expert_bytes = 0;
  for (const ExpertRange& range : experts_) expert_bytes += range.bytes;
  return file_.size() - std::min(file_.size(), expert_bytes);
}

uint64_t Container::read_into_memory(bool with_experts, const std::function<void(uint64_t, uint64_t)>& progress) {
  std::vector<MappedFile::Range> skip;
  if (!with_experts) {
    for (const ExpertRange& range : experts_) skip.push_back({range.offset, range.bytes});
  }
  std::sort(skip.begin(), skip.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  MappedFile copy = MappedFile::read_into_memory(path(), progress, skip);
  if (copy.size() != file_.size()) throw Error(path(), "the file changed size while it was read");
  file_ = std::move(copy);
  for (TensorView& tensor : tensors_) tensor.data = file_.data() + tensor.offset;
  return with_experts ? file_.size() : non_expert_bytes();
}

void Container::read_header() {
  const std::string& where = path();
  if (file_.size() < sizeof(FileHeader)) {
    throw Error(where, "truncated: " + std::to_string(file_.size()) + " bytes is shorter than the " +
                           std::to_string(sizeof(FileHeader)) + "-byte header");
  }
  std::memcpy(&header_, file_.data(), sizeof(FileHeader));
  if (std::memcmp(header_.magic, kMagic, sizeof(kMagic)) != 0) throw Error(where, "not a .smoe file (wrong magic)");
  if (header_.version > kFormatVersion) {
    throw Error(where, "format version " + std::to_string(header_.version) + " is newer than this build reads (" +
                           std::to_string(kFormatVersion) + "); upgrade smoe");
  }
  if (header_.version == 0) throw Error(where, "invalid format version 0");
  if (header_.header_bytes != sizeof(FileHeader)) {
    throw Error(where, "header size " + std::to_string(header_.header_bytes) + " differs from " +
                           std::to_string(sizeof(FileHeader)));
  }
  if (header_.file_bytes != file_.size()) {
    throw Error(where, (file_.size() < header_.file_bytes ? "truncated: " : "unexpected trailing data: ") +
                           std::to_string(file_.size()) + " bytes on disk, header says " +
                           std::to_string(header_.file_bytes));
  }
  const uint64_t alignment = header_.expert_alignment;
  if (alignment < 4096 || alignment > (1u << 30) || (alignment & (alignment - 1)) != 0) {
    throw Error(where, "expert alignment " + std::to_string(alignment) + " is not a power of two in 4 KiB..1 GiB");
  }
  if (header_.metadata_bytes > kMaxMetadataBytes) {
    throw Error(where, "metadata of " + std::to_string(header_.metadata_bytes) + " bytes exceeds the " +
                           std::to_string(kMaxMetadataBytes) + "-byte limit");
  }
  if (header_.tensor_count > kMaxTensorCount || header_.expert_count > kMaxTensorCount) {
    throw Error(where, "tensor count " + std::to_string(header_.tensor_count) + " or expert count " +
                           std::to_string(header_.expert_count) + " exceeds the limit of " + std::to_string(kMaxTensorCount));
  }
  // Sections in order, without gaps that could hide data: metadata, tensors, experts, data.
  const uint64_t size = file_.size();
  check_section(where, "metadata", header_.metadata_offset, header_.metadata_bytes, 1, size);
  check_section(where, "tensor table", header_.tensor_table_offset, header_.tensor_count, sizeof(TensorRecord), size);
  check_section(where, "expert table", header_.expert_table_offset, header_.expert_count, sizeof(ExpertRangeRecord), size);
  const bool ordered = header_.metadata_offset == sizeof(FileHeader) &&
                       header_.tensor_table_offset == header_.metadata_offset + header_.metadata_bytes &&
                       header_.expert_table_offset == header_.tensor_table_offset + header_.tensor_count * sizeof(TensorRecord) &&
                       header_.data_offset >= header_.expert_table_offset + header_.expert_count * sizeof(ExpertRangeRecord) &&
                       header_.data_offset <= size;
  if (!ordered) throw Error(where, "header sections are out of order or overlap");
  const uint64_t index_bytes = header_.data_offset - header_.metadata_offset;
  if (xxh3_64(file_.data() + header_.metadata_offset, index_bytes) != header_.index_checksum) {
    throw Error(where, "index checksum mismatch: the metadata or tensor table is corrupt");
  }
}

void Container::read_metadata() {
  const auto* begin = reinterpret_cast<const char*>(file_.data() + header_.metadata_offset);
  const nlohmann::json json = nlohmann::json::parse(begin, begin + header_.metadata_bytes, nullptr, false);
  if (json.is_discarded()) throw Error(path(), "metadata is not valid JSON");
  metadata_ = metadata_from_json(json, path());
}

void Container::read_tensor_table() {
  const std::string& where = path();
  tensors_.reserve(header_.tensor_count);
  for (uint64_t i = 0; i < header_.tensor_count; ++i) {
    TensorRecord record;
    std::memcpy(&record, file_.data() + header_.tensor_table_offset + i * sizeof(TensorRecord), sizeof(record));
    const size_t name_length = strnlen(record.name, kNameBytes);
    if (name_length == 0 || name_length == kNameBytes) {
      throw Error(where, "tensor #" + std::to_string(i) + " has an empty or unterminated name");
    }
    std::string name(record.name, name_length);
    const std::optional<quant::TypeTraits> traits = quant::type_traits(record.type);
    if (!traits) {
      throw Error(where, "tensor " + in_quotes(name) + " has unknown type id " + std::to_string(record.type) +
                             " (written by a newer smoe?)");
    }
    if (record.n_dims == 0 || record.n_dims > kMaxDims) {
      throw Error(where, "tensor " + in_quotes(name) + " has " + std::to_string(record.n_dims) + " dimensions");
    }
    std::vector<uint64_t> shape(record.shape, record.shape + record.n_dims);
    for (uint32_t d = 0; d < kMaxDims; ++d) {
      const bool used = d < record.n_dims;
      if (used ? record.shape[d] == 0 : record.shape[d] != 0) {
        throw Error(where, "tensor " + in_quotes(name) + " has an invalid shape");
      }
    }
    const auto type = static_cast<quant::TensorType>(record.type);
    if (traits->row_group > 1) {  // rows interleaved in groups (q4k_x8, q8_x8): a matrix of whole groups
      const bool matrix = record.n_dims == 2 || (record.n_dims == 3 && header_.version >= 2);
      if (!matrix || shape[record.n_dims - 2] % traits->row_group != 0) {
        throw Error(where, "tensor " + in_quotes(name) + " of type " + std::string(traits->name) +
                               " needs a matrix whose rows come in whole groups of " +
                               std::to_string(traits->row_group));
      }
    }
    const std::optional<uint64_t> expected_bytes = quant::tensor_bytes(type, shape);
    if (!expected_bytes) {
      throw Error(where, "tensor " + in_quotes(name) + ": shape does not fit type " + std::string(traits->name) +
                             " (rows must be whole blocks of " + std::to_string(traits->block_elements) + ")");
    }
    if (*expected_bytes != record.bytes) {
      throw Error(where, "tensor " + in_quotes(name) + " has " + std::to_string(record.bytes) + " bytes but its type " +
                             std::string(traits->name) + " and shape need " + std::to_string(*expected_bytes));
    }
    if (record.offset % kTensorAlignment != 0) {
      throw Error(where, "tensor " + in_quotes(name) + " at offset " + std::to_string(record.offset) +
                             " is not " + std::to_string(kTensorAlignment) + "-byte aligned");
    }
    if (record.offset < header_.data_offset || !range_within(record.offset, record.bytes, file_.size())) {
      throw Error(where, "tensor " + in_quotes(name) + " (offset " + std::to_string(record.offset) + ", " +
                             std::to_string(record.bytes) + " bytes) lies outside the data section");
    }
    // Version 2: a 3-D record (P, rows, W) is a (rows, P W) matrix stored in P column panels.
    uint64_t panel_columns = 0;
    if (header_.version >= 2 && record.n_dims == 3) {
      const std::optional<uint64_t> columns = checked_mul(shape[0], shape[2]);
      if (!traits->is_quantized || shape[0] < 2 || !columns) {
        throw Error(
            where, "tensor " + in_quotes(name) + ": column panels need a block-quantized type and at least two panels");
      }
      panel_columns = shape[2];
      shape = {shape[1], *columns};
    }
    if (!index_by_name_.emplace(name, tensors_.size()).second) throw Error(where, "duplicate tensor " + in_quotes(name));
    tensors_.push_back({std::move(name), type, std::move(shape), record.offset, record.bytes, record.checksum,
                        file_.data() + record.offset, panel_columns});
  }
}

void Container::check_tensor_overlaps() const {
  std::vector<const TensorView*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const TensorView& tensor : tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorView& before = *by_offset[i - 1];
    if (before.offset + before.bytes > by_offset[i]->offset) {
      throw Error(path(), "tensors " + in_quotes(before.name) + " and " + in_quotes(by_offset[i]->name) + " overlap");
    }
  }
}

void Container::read_expert_table() {
  const std::string& where = path();
  const Hyperparameters& hp = metadata_.hyperparameters;
  const uint64_t expected = uint64_t{hp.num_hidden_layers} * hp.num_local_experts;
  if (header_.expert_count != expected) {
    throw Error(where, "expert table has " + std::to_string(header_.expert_count) + " ranges, the model needs " +
                           std::to_string(expected));
  }
  experts_.assign(expected, ExpertRange{});
  std::vector<bool> seen(expected, false);
  for (uint64_t i = 0; i < header_.expert_count; ++i) {
    ExpertRangeRecord record;
    std::memcpy(&record, file_.data() + header_.expert_table_offset + i * sizeof(record), sizeof(record));
    const std::string label = "expert range of layer " + std::to_string(record.layer) + " expert " + std::to_string(record.expert);
    if (record.layer >= hp.num_hidden_layers || record.expert >= hp.num_local_experts) {
      throw Error(where, label + " is outside the model");
    }
    const uint64_t slot = uint64_t{record.layer} * hp.num_local_experts + record.expert;
    if (seen[slot]) throw Error(where, label + " appears twice");
    seen[slot] = true;
    if (record.offset % header_.expert_alignment != 0) {
      throw Error(where, label + " at offset " + std::to_string(record.offset) + " is not aligned to " +
                             std::to_string(header_.expert_alignment) + " bytes");
    }
    if (record.first_tensor > tensors_.size() || tensors_.size() - record.first_tensor < 3) {
      throw Error(where, label + " refers to tensors past the table");
    }
    const TensorView* matrices[3] = {&tensors_[record.first_tensor], &tensors_[record.first_tensor + 1],
                                     &tensors_[record.first_tensor + 2]};
    const char* names[3] = {"w1", "w3", "w2"};
    uint64_t expected_offset = record.offset;
    for (int m = 0; m < 3; ++m) {
      if (matrices[m]->name != format::expert_tensor_name(record.layer, record.expert, names[m])) {
        throw Error(where, label + " lists tensor " + in_quotes(matrices[m]->name) + " where " + names[m] + " belongs");
      }
      if (matrices[m]->offset != expected_offset) {
        throw Error(where, label + ": " + names[m] + " is not stored back to back inside the range");
      }
      expected_offset = *checked_align_up(matrices[m]->offset + matrices[m]->bytes, kTensorAlignment);
    }
    const uint64_t end = matrices[2]->offset + matrices[2]->bytes;
    if (record.bytes != end - record.offset) {
      throw Error(where, label + " says " + std::to_string(record.bytes) + " bytes, its matrices span " +
                             std::to_string(end - record.offset));
    }
    experts_[slot] = {record.layer, record.expert, record.offset, record.bytes, matrices[0], matrices[1], matrices[2]};
  }
  // No other tensor may share an expert range's pages (from its start to its end rounded up to
  // the expert alignment): prefetching or dropping an expert must not touch anything else.
  std::vector<std::pair<uint64_t, uint64_t>> reserved;  // [begin, end) per expert
  for (const ExpertRange& range : experts_) {
    reserved.emplace_back(range.offset, *checked_align_up(range.offset + range.bytes, header_.expert_alignment));
  }
  std::sort(reserved.begin(), reserved.end());
  for (const TensorView& tensor : tensors_) {
    if (tensor.name.find(".experts.") != std::string::npos) continue;
    auto next = std::upper_bound(reserved.begin(), reserved.end(), std::pair<uint64_t, uint64_t>(tensor.offset, UINT64_MAX));
    if (next != reserved.begin() && tensor.offset < std::prev(next)->second) {
      throw Error(where, "tensor " + in_quotes(tensor.name) + " shares pages with an expert range");
    }
    if (next != reserved.end() && tensor.offset + tensor.bytes > next->first) {
      throw Error(where, "tensor " + in_quotes(tensor.name) + " shares pages with an expert range");
    }
  }
}

void Container::check_schema() const {
  const std::string& where = path();
  for (const format::TensorSpec& spec : format::mixtral_tensor_specs(metadata_.hyperparameters)) {
    const TensorView* tensor = find(spec.name);
    if (!tensor) throw Error(where, "missing tensor " + in_quotes(spec.name));
    if (tensor->shape != spec.shape) {
      throw Error(where, "tensor " + in_quotes(spec.name) + " has a shape that disagrees with the hyperparameters");
    }
    if (tensor->type == quant::TensorType::u8) throw Error(where, "tensor " + in_quotes(spec.name) + " is not a weight type");
  }
  const TensorView* tokenizer = find(kTokenizerTensor);
  if (!tokenizer || tokenizer->type != quant::TensorType::u8 || tokenizer->shape.size() != 1) {
    throw Error(where, "missing or malformed tensor " + in_quotes(kTokenizerTensor));
  }
}

const TensorView* Container::find(std::string_view name) const {
  const auto it = index_by_name_.find(std::string(name));
  return it == index_by_name_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& Container::require(std::string_view name) const {
  const TensorView* tensor = find(name);
  if (!tensor) throw Error(path(), "missing tensor " + in_quotes(name));
  return *tensor;
}

const ExpertRange& Container::expert_range(uint32_t layer, uint32_t expert) const {
  const Hyperparameters& hp = metadata_.hyperparameters;
  if (layer >= hp.num_hidden_layers || expert >= hp.num_local_experts) {
    throw Error(path(), "no expert " + std::to_string(expert) + " in layer " + std::to_string(layer));
  }
  return experts_[uint64_t{layer} * hp.num_local_experts + expert];
}

std::span<const std::byte> Container::tokenizer_model() const {
  const TensorView& tensor = require(kTokenizerTensor);
  return {tensor.data, static_cast<size_t>(tensor.bytes)};
}

std::vector<std::string> Container::failed_checksums() const {
  std::vector<std::string> failed;
  for (const TensorView& tensor : tensors_) {
    if (xxh3_64(tensor.data, tensor.bytes) != tensor.checksum) failed.push_back(tensor.name);
    file_.release(tensor.offset, tensor.bytes);  // a full pass should not pin the whole file
  }
  return failed;
}

}  // namespace smoe::format
