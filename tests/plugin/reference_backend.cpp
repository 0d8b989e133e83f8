// libsmoe-reference.so: a backend plugin that runs uploaded experts on the CPU with plain f32
// arithmetic. It tests the plugin path end to end without a GPU (loading, the ABI check,
// placement, dispatch, fallback) and is the reference the CUDA plugin is checked against.
// Environment knobs for tests: SMOE_REFERENCE_ABI (the version it claims), SMOE_REFERENCE_FAIL
// (fail every expert_forward), SMOE_REFERENCE_MEMORY (bytes it offers).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "backend/backend_abi.h"
#include "quant/formats/convert_row.h"

namespace {

struct Matrix {
  uint64_t rows = 0, columns = 0;
  std::vector<float> values;  // "device" copy, decoded once at upload
};

struct Expert {
  Matrix w1, w3, w2;
};

struct State {
  std::mutex mutex;
  std::map<uint64_t, Expert> experts;
  uint64_t next = 1;
  bool fail = std::getenv("SMOE_REFERENCE_FAIL") != nullptr;
  smoe_backend api{};  // what smoe_backend_open returned for this state: one per open, freed by destroy
};

Matrix decode(const smoe_backend_tensor& tensor) {
  Matrix m{tensor.rows, tensor.columns, std::vector<float>(tensor.rows * tensor.columns)};
  const uint64_t row_bytes = tensor.bytes / tensor.rows;
  for (uint64_t r = 0; r < tensor.rows; ++r) {
    smoe::quant::dequantize_row(static_cast<smoe::quant::TensorType>(tensor.type),
                                static_cast<const std::byte*>(tensor.data) + r * row_bytes, &m.values[r * m.columns],
                                m.columns);
  }
  return m;
}

void multiply(const Matrix& w, const float* x, uint64_t n, float* y) {  // y (n, rows) = x (n, columns) W^T
  for (uint64_t t = 0; t < n; ++t) {
    for (uint64_t r = 0; r < w.rows; ++r) {
      float sum = 0.0f;
      for (uint64_t c = 0; c < w.columns; ++c) sum += w.values[r * w.columns + c] * x[t * w.columns + c];
      y[t * w.rows + r] = sum;
    }
  }
}

uint64_t memory_bytes(void*) {
  const char* memory = std::getenv("SMOE_REFERENCE_MEMORY");
  return memory ? std::strtoull(memory, nullptr, 10) : (uint64_t{1} << 40);
}

uint64_t upload_expert(void* opaque, const smoe_backend_tensor* w1, const smoe_backend_tensor* w3,
                       const smoe_backend_tensor* w2, char*, size_t) {
  auto* state = static_cast<State*>(opaque);
  const std::lock_guard lock(state->mutex);
  state->experts[state->next] = {decode(*w1), decode(*w3), decode(*w2)};
  return state->next++;
}

void release(void* opaque, uint64_t handle) {
  auto* state = static_cast<State*>(opaque);
  const std::lock_guard lock(state->mutex);
  state->experts.erase(handle);
}

int expert_forward(void* opaque, uint64_t handle, const float* x, uint64_t n, float* out, char* error, size_t size) {
  auto* state = static_cast<State*>(opaque);
  const std::lock_guard lock(state->mutex);
  const auto found = state->experts.find(handle);
  if (state->fail || found == state->experts.end()) {
    std::snprintf(error, size, "%s", state->fail ? "simulated device failure" : "unknown handle");
    return 1;
  }
  const Expert& e = found->second;
  std::vector<float> gate(n * e.w1.rows), up(n * e.w3.rows);
  multiply(e.w1, x, n, gate.data());
  multiply(e.w3, x, n, up.data());
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  multiply(e.w2, gate.data(), n, out);
  return 0;
}

void destroy(void* opaque) { delete static_cast<State*>(opaque); }

}  // namespace

extern "C" __attribute__((visibility("default"))) smoe_backend* smoe_backend_open(uint32_t abi_version, char* error,
                                                                                  size_t size) {
  if (abi_version != SMOE_BACKEND_ABI_VERSION) {
    std::snprintf(error, size, "reference backend speaks ABI %u, asked for %u", SMOE_BACKEND_ABI_VERSION, abi_version);
    return nullptr;
  }
  const char* claimed = std::getenv("SMOE_REFERENCE_ABI");
  // Each open owns its struct: two models with this backend in one process must not share one.
  auto* state = new State;
  state->api = {claimed ? uint32_t(std::strtoul(claimed, nullptr, 10)) : SMOE_BACKEND_ABI_VERSION,
                "reference",
                "CPU, f32 reference",
                state,
                memory_bytes,
                upload_expert,
                release,
                expert_forward,
                destroy};
  return &state->api;
}
