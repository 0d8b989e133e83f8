// libFuzzer target: the GGUF parser, then the Mixtral checkpoint reader on top of it
// (hyperparameters, the SentencePiece model rebuilt from the vocabulary, tensor lookups).
#include "convert/checkpoint.h"
#include "convert/gguf_file.h"
#include "fuzz_input.h"
#include "format/tensor_schema.h"
#include "smoe/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = smoe::fuzz::write_input("input.gguf", data, size);
  try {
    const auto checkpoint = smoe::convert::open_checkpoint(path, "gguf");
    for (const auto& spec : smoe::format::mixtral_tensor_specs(checkpoint->hyperparameters())) {
      (void)checkpoint->tensor_source(spec);
    }
  } catch (const smoe::Error&) {
  }
  return 0;
}
