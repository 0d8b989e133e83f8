// smoe::Error: the one exception type the library throws for bad input and failed I/O.
//
// Messages name the file (or object) and the problem, e.g.
//   "model.smoe: tensor 'layers.3.attn.q' ends at byte 9123 past the end of the file (8000 bytes)".
#pragma once

#include <stdexcept>
#include <string>

namespace smoe {

class Error : public std::runtime_error {
 public:
  // `where` is usually a file path; the message reads "where: problem".
  Error(const std::string& where, const std::string& problem) : std::runtime_error(where + ": " + problem) {}
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace smoe
