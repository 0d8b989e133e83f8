// libFuzzer target: the safetensors header parser and row reads of every tensor it accepts.
#include <vector>

#include "convert/safetensors_file.h"
#include "fuzz_input.h"
#include "smoe/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = smoe::fuzz::write_input("input.safetensors", data, size);
  try {
    const auto file = smoe::convert::SafetensorsFile::open(path);
    for (const auto& tensor : file.tensors()) {
      if (tensor.shape.size() > 2 || tensor.bytes > (1u << 20)) continue;
      const uint64_t rows = tensor.shape.size() == 2 ? tensor.shape[0] : 1;
      const uint64_t columns = tensor.shape.empty() ? 1 : tensor.shape.back();
      std::vector<float> out(rows * columns);
      file.read_rows_f32(tensor, 0, rows, out.data());
    }
  } catch (const smoe::Error&) {
  }
  return 0;
}
