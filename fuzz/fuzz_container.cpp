// libFuzzer target: the .smoe container reader (header, metadata JSON, tensor and expert tables),
// and row addressing (format/panels.h) of whatever matrices it accepts.
#include <vector>

#include "format/container.h"
#include "fuzz_input.h"
#include "ops/matmul.h"
#include "smoe/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = smoe::fuzz::write_input("input.smoe", data, size);
  try {
    const smoe::format::Container container = smoe::format::Container::open(path);
    (void)container.failed_checksums();  // reads every tensor the tables describe
    // The first and last row of every accepted matrix, through the panels where it has them:
    // an addressing error reads outside the tensor, which ASan reports.
    std::vector<float> row;
    for (const smoe::format::TensorView& tensor : container.tensors()) {
      if (tensor.shape.size() != 2 || tensor.type == smoe::quant::TensorType::u8 || tensor.shape[1] > (1u << 20))
        continue;
      row.resize(tensor.shape[1]);
      smoe::ops::read_row(tensor, 0, row.data());
      smoe::ops::read_row(tensor, tensor.shape[0] - 1, row.data());
    }
  } catch (const smoe::Error&) {
  }
  return 0;
}
