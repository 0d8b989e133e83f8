// libFuzzer target: the .smoe container reader (header, metadata JSON, tensor and expert tables).
#include "format/container.h"
#include "fuzz_input.h"
#include "smoe/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = smoe::fuzz::write_input("input.smoe", data, size);
  try {
    const smoe::format::Container container = smoe::format::Container::open(path);
    (void)container.failed_checksums();  // reads every tensor the tables describe
  } catch (const smoe::Error&) {
  }
  return 0;
}
