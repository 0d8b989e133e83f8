// libFuzzer target: Hugging Face config.json and Mistral params.json parsing (the first byte
// picks which), each as the first file its reader opens in a release directory.
#include <filesystem>

#include "convert/hf_checkpoint.h"
#include "convert/mistral_checkpoint.h"
#include "fuzz_input.h"
#include "smoe/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool mistral = data[0] & 1;
  const auto directory = smoe::fuzz::scratch_directory() / (mistral ? "mistral" : "hf");
  std::filesystem::create_directories(directory);
  const std::string name = mistral ? "mistral/params.json" : "hf/config.json";
  smoe::fuzz::write_input(name, data + 1, size - 1);
  try {
    if (mistral) {
      (void)smoe::convert::MistralCheckpoint::open(directory.string());
    } else {
      (void)smoe::convert::HfCheckpoint::open(directory.string());
    }
  } catch (const smoe::Error&) {
  }
  return 0;
}
