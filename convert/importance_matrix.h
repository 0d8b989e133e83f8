// Importance matrix ("imatrix"): per weight tensor, the mean square of each input column's
// activation over calibration text, so quantization can weigh errors where activations are
// large. Expert tensors only see the tokens routed to them. Also the router's selection counts.
//
// File (little-endian): magic "SMOEIMX1", u32 entry count, then per entry: u32 name length,
// name bytes, u64 tokens seen, u64 value count, f32 values[value count]. Routing counts are
// entries named "routing.L" with one value per expert.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convert/input_covariance.h"

namespace smoe::convert {

struct ImportanceEntry {
  uint64_t tokens = 0;           // activations (rows of x) accumulated
  std::vector<double> sum_squares;  // per input column (after load(): already divided by tokens)
};

class ImportanceMatrix {
 public:
  void add(const std::string& name, const float* x, size_t rows, size_t columns);
  void add_count(const std::string& name, size_t index, size_t size);  // routing counters

  void save(const std::string& path) const;
  // Reads and validates; throws smoe::Error naming the file.
  static ImportanceMatrix load(const std::string& path);
  // This matrix as save() then load() would return it (means rounded to f32, counts as they
  // are), so statistics gathered in memory quantize exactly as their saved file would;
  // `source` names it in errors.
  ImportanceMatrix as_loaded(const std::string& source) const;

  // Mean squares for `name` as quantization importance (columns,); empty when the tensor was
  // never seen (an expert no calibration token reached). Throws when the length disagrees.
  std::vector<float> importance(const std::string& name, size_t columns) const;
  const std::map<std::string, ImportanceEntry>& entries() const { return entries_; }

  // From now on add() also gathers each input's covariance blocks (input_covariance.h), for
  // GPTQ rounding. In memory only: save() writes the diagonal alone, so load() has none;
  // as_loaded() shares them.
  void gather_covariance();
  // The covariance gathered, or nullptr (none gathered, or a loaded file).
  std::shared_ptr<const InputCovariance> covariance() const { return covariance_; }

 private:
  std::string path_;
  std::shared_ptr<InputCovariance> covariance_;
  std::map<std::string, ImportanceEntry> entries_;
};

}  // namespace smoe::convert
