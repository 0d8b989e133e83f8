// Accumulation and defensive (de)serialization of importance matrices.
#include "convert/importance_matrix.h"

#include <cmath>
#include <cstring>
#include <fstream>

#include "smoe/error.h"

namespace smoe::convert {
namespace {

constexpr char kMagic[8] = {'S', 'M', 'O', 'E', 'I', 'M', 'X', '1'};
constexpr uint32_t kMaxEntries = 1u << 20;
constexpr uint32_t kMaxName = 256;
constexpr uint64_t kMaxValues = 1ull << 24;

template <class T>
void write_value(std::ofstream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
T read_value(std::ifstream& in, const std::string& path) {
  T value;
  if (!in.read(reinterpret_cast<char*>(&value), sizeof(T))) throw Error(path, "truncated importance matrix");
  return value;
}

// What the file holds for one accumulated value: a mean over the tokens, or a routing count.
float stored_value(const std::string& name, const ImportanceEntry& entry, double sum) {
  const bool is_count = name.starts_with("routing.");
  return static_cast<float>(is_count || entry.tokens == 0 ? sum : sum / double(entry.tokens));
}

}  // namespace

void ImportanceMatrix::add(const std::string& name, const float* x, size_t rows, size_t columns) {
  ImportanceEntry& entry = entries_[name];
  if (entry.sum_squares.empty()) entry.sum_squares.assign(columns, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < columns; ++c) entry.sum_squares[c] += double(x[r * columns + c]) * x[r * columns + c];
  }
  entry.tokens += rows;
  if (covariance_) covariance_->add(name, x, rows, columns);
}

void ImportanceMatrix::gather_covariance() {
  if (!covariance_) covariance_ = std::make_shared<InputCovariance>();
}

void ImportanceMatrix::add_count(const std::string& name, size_t index, size_t size) {
  ImportanceEntry& entry = entries_[name];
  if (entry.sum_squares.empty()) entry.sum_squares.assign(size, 0.0);
  entry.sum_squares.at(index) += 1.0;
  entry.tokens = 1;
}

void ImportanceMatrix::save(const std::string& path) const {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path, "cannot write");
    out.write(kMagic, sizeof(kMagic));
    write_value(out, static_cast<uint32_t>(entries_.size()));
    for (const auto& [name, entry] : entries_) {
      write_value(out, static_cast<uint32_t>(name.size()));
      out.write(name.data(), static_cast<std::streamsize>(name.size()));
      write_value(out, entry.tokens);
      write_value(out, static_cast<uint64_t>(entry.sum_squares.size()));
      for (double sum : entry.sum_squares) write_value(out, stored_value(name, entry, sum));
    }
    if (!out) throw Error(path, "write failed");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) throw Error(path, "cannot rename the finished file into place");
}

ImportanceMatrix ImportanceMatrix::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open");
  char magic[8];
  if (!in.read(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    throw Error(path, "not an smoe importance matrix (wrong magic)");
  }
  ImportanceMatrix matrix;
  matrix.path_ = path;
  const auto count = read_value<uint32_t>(in, path);
  if (count > kMaxEntries) throw Error(path, "entry count " + std::to_string(count) + " exceeds the limit");
  for (uint32_t i = 0; i < count; ++i) {
    const auto name_length = read_value<uint32_t>(in, path);
    if (name_length == 0 || name_length > kMaxName) throw Error(path, "entry name length " + std::to_string(name_length));
    std::string name(name_length, '\0');
    if (!in.read(name.data(), name_length)) throw Error(path, "truncated importance matrix");
    ImportanceEntry entry;
    entry.tokens = read_value<uint64_t>(in, path);
    const auto values = read_value<uint64_t>(in, path);
    if (values == 0 || values > kMaxValues) throw Error(path, "entry '" + name + "' has " + std::to_string(values) + " values");
    entry.sum_squares.resize(values);
    for (double& value : entry.sum_squares) {
      const auto stored = read_value<float>(in, path);
      if (!(stored >= 0.0f) || std::isinf(stored)) throw Error(path, "entry '" + name + "' holds a negative or non-finite value");
      value = stored;  // already a mean (or a count)
    }
    matrix.entries_[name] = std::move(entry);
  }
  if (in.peek() != std::char_traits<char>::eof()) throw Error(path, "unexpected trailing data");
  return matrix;
}

ImportanceMatrix ImportanceMatrix::as_loaded(const std::string& source) const {
  ImportanceMatrix matrix;
  matrix.path_ = source;
  matrix.covariance_ = covariance_;
  for (const auto& [name, entry] : entries_) {
    ImportanceEntry& copy = matrix.entries_[name];
    copy.tokens = entry.tokens;
    copy.sum_squares.reserve(entry.sum_squares.size());
    for (double sum : entry.sum_squares) copy.sum_squares.push_back(stored_value(name, entry, sum));
  }
  return matrix;
}

std::vector<float> ImportanceMatrix::importance(const std::string& name, size_t columns) const {
  const auto it = entries_.find(name);
  if (it == entries_.end() || it->second.tokens == 0) return {};
  if (it->second.sum_squares.size() != columns) {
    throw Error(path_, "importance of '" + name + "' has " + std::to_string(it->second.sum_squares.size()) +
                           " columns, the tensor's rows have " + std::to_string(columns) + " (another model?)");
  }
  return {it->second.sum_squares.begin(), it->second.sum_squares.end()};
}

}  // namespace smoe::convert
