// One generator per thread, seeded from the system (see random_id.h).
#include "random_id.h"

#include <random>

namespace smoe::server {

std::string random_id(const char* prefix, size_t count) {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string id = prefix;
  for (size_t i = 0; i < count; ++i) id += kAlphabet[pick(generator)];
  return id;
}

}  // namespace smoe::server
