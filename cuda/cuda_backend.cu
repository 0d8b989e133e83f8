// libsmoe-cuda.so: the CUDA backend plugin (lib/backend/backend_abi.h). Experts are uploaded
// as the container stores them (f32, f16, bf16, q8, q4, q4k blocks; other types are refused,
// so those experts stay on the CPU) through pinned staging memory on the plugin's own stream,
// and run as matrix-vector products that decode each weight in place, one thread block per
// output row and token, then SwiGLU. Correctness is checked against the CPU path by
// tests/unit/test_backend_plugin.cpp, which skips when no GPU is visible.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "backend/backend_abi.h"
#include "decode.cuh"

namespace smoe::cuda {
namespace {

constexpr int kThreads = 128;
constexpr uint64_t kStagingBytes = 64ull << 20;
constexpr uint64_t kReserveBytes = 512ull << 20;  // left to the driver, cuBLAS-free kernels and scratch

struct DeviceMatrix {
  uint32_t type = 0;
  uint64_t rows = 0, columns = 0, row_bytes = 0;
  uint8_t* data = nullptr;
};

struct DeviceExpert {
  DeviceMatrix w1, w3, w2;
};

struct State {
  int device = 0;
  cudaStream_t stream = nullptr;
  uint8_t* staging = nullptr;  // pinned host memory
  std::mutex mutex;
  std::map<uint64_t, DeviceExpert> experts;
  uint64_t next = 1;
  float *x = nullptr, *gate = nullptr, *up = nullptr, *out = nullptr;
  uint64_t scratch_floats = 0;
  std::string device_name;
  smoe_backend api{};  // what smoe_backend_open returned for this state: one per open, freed by destroy
};

bool failed(cudaError_t status, char* error, size_t size, const char* what) {
  if (status == cudaSuccess) return false;
  std::snprintf(error, size, "%s: %s", what, cudaGetErrorString(status));
  return true;
}

// y[t * rows + r] = sum_c W[r, c] x[t * columns + c]; grid (rows, n), kThreads threads.
__global__ void matvec(DeviceMatrix w, const float* x, float* y) {
  const uint64_t r = blockIdx.x, t = blockIdx.y;
  const uint8_t* row = w.data + r * w.row_bytes;
  const float* xt = x + t * w.columns;
  float sum = 0.0f;
  for (uint64_t c = threadIdx.x; c < w.columns; c += blockDim.x) sum += decode(w.type, row, c) * xt[c];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  __shared__ float warp_sums[kThreads / 32];
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int i = 0; i < kThreads / 32; ++i) total += warp_sums[i];
    y[t * w.rows + r] = total;
  }
}

__global__ void silu_mul(float* gate, const float* up, uint64_t count) {
  const uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

uint64_t memory_bytes(void* opaque) {
  auto* state = static_cast<State*>(opaque);
  cudaSetDevice(state->device);
  size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) return 0;
  return free_bytes > kReserveBytes ? free_bytes - kReserveBytes : 0;
}

bool upload_matrix(State& state, const smoe_backend_tensor& tensor, DeviceMatrix& out, char* error, size_t size) {
  out.type = tensor.type;
  out.rows = tensor.rows;
  out.columns = tensor.columns;
  out.row_bytes = row_bytes(tensor.type, tensor.columns);
  if (out.row_bytes == 0 || out.row_bytes * out.rows != tensor.bytes) {
    std::snprintf(error, size, "tensor type %u is not supported by the CUDA plugin", tensor.type);
    return false;
  }
  if (failed(cudaMalloc(&out.data, tensor.bytes), error, size, "cudaMalloc")) return false;
  const auto* source = static_cast<const uint8_t*>(tensor.data);
  for (uint64_t done = 0; done < tensor.bytes; done += kStagingBytes) {
    const uint64_t chunk = std::min(kStagingBytes, tensor.bytes - done);
    std::memcpy(state.staging, source + done, chunk);
    if (failed(cudaMemcpyAsync(out.data + done, state.staging, chunk, cudaMemcpyHostToDevice, state.stream), error, size,
               "upload") ||
        failed(cudaStreamSynchronize(state.stream), error, size, "upload")) {
      return false;
    }
  }
  return true;
}

uint64_t upload_expert(void* opaque, const smoe_backend_tensor* w1, const smoe_backend_tensor* w3,
                       const smoe_backend_tensor* w2, char* error, size_t size) {
  auto* state = static_cast<State*>(opaque);
  const std::lock_guard lock(state->mutex);
  cudaSetDevice(state->device);
  DeviceExpert expert;
  if (!upload_matrix(*state, *w1, expert.w1, error, size) || !upload_matrix(*state, *w3, expert.w3, error, size) ||
      !upload_matrix(*state, *w2, expert.w2, error, size)) {
    cudaFree(expert.w1.data);
    cudaFree(expert.w3.data);
    cudaFree(expert.w2.data);
    return 0;
  }
  state->experts[state->next] = expert;
  return state->next++;
}

void release(void* opaque, uint64_t handle) {
  auto* state = static_cast<State*>(opaque);
  const std::lock_guard lock(state->mutex);
  const auto found = state->experts.find(handle);
  if (found == state->experts.end()) return;
  cudaSetDevice(state->device);
  cudaFree(found->second.w1.data);
  cudaFree(found->second.w3.data);
  cudaFree(found->second.w2.data);
  state->experts.erase(found);
}

bool ensure_scratch(State& state, uint64_t floats, char* error, size_t size) {
  if (floats <= state.scratch_floats) return true;
  cudaFree(state.x);
  cudaFree(state.gate);
  cudaFree(state.up);
  cudaFree(state.out);
  state.scratch_floats = 0;
  for (float** buffer : {&state.x, &state.gate, &state.up, &state.out}) {
    if (failed(cudaMalloc(buffer, floats * sizeof(float)), error, size, "scratch")) return false;
  }
  state.scratch_floats = floats;
  return true;
}

int expert_forward(void* opaque, uint64_t handle, const float* x, uint64_t n, float* out, char* error, size_t size) {
  auto* state = static_cast<State*>(opaque);
  const std::lock_guard lock(state->mutex);
  const auto found = state->experts.find(handle);
  if (found == state->experts.end()) {
    std::snprintf(error, size, "unknown expert handle %llu", static_cast<unsigned long long>(handle));
    return 1;
  }
  const DeviceExpert& e = found->second;
  const uint64_t dim = e.w1.columns, ffn = e.w1.rows;
  cudaSetDevice(state->device);
  if (!ensure_scratch(*state, n * std::max(dim, ffn), error, size)) return 1;
  if (failed(cudaMemcpyAsync(state->x, x, n * dim * sizeof(float), cudaMemcpyHostToDevice, state->stream), error, size,
             "input")) {
    return 1;
  }
  matvec<<<dim3(unsigned(ffn), unsigned(n)), kThreads, 0, state->stream>>>(e.w1, state->x, state->gate);
  matvec<<<dim3(unsigned(ffn), unsigned(n)), kThreads, 0, state->stream>>>(e.w3, state->x, state->up);
  const uint64_t count = n * ffn;
  silu_mul<<<unsigned((count + 255) / 256), 256, 0, state->stream>>>(state->gate, state->up, count);
  matvec<<<dim3(unsigned(dim), unsigned(n)), kThreads, 0, state->stream>>>(e.w2, state->gate, state->out);
  if (failed(cudaGetLastError(), error, size, "kernel launch") ||
      failed(cudaMemcpyAsync(out, state->out, n * dim * sizeof(float), cudaMemcpyDeviceToHost, state->stream), error, size,
             "output") ||
      failed(cudaStreamSynchronize(state->stream), error, size, "expert")) {
    return 1;
  }
  return 0;
}

void destroy(void* opaque) {
  auto* state = static_cast<State*>(opaque);
  cudaSetDevice(state->device);
  for (auto& [handle, expert] : state->experts) {
    cudaFree(expert.w1.data);
    cudaFree(expert.w3.data);
    cudaFree(expert.w2.data);
  }
  for (float* buffer : {state->x, state->gate, state->up, state->out}) cudaFree(buffer);
  if (state->staging) cudaFreeHost(state->staging);
  if (state->stream) cudaStreamDestroy(state->stream);
  delete state;
}

}  // namespace
}  // namespace smoe::cuda

extern "C" __attribute__((visibility("default"))) smoe_backend* smoe_backend_open(uint32_t abi_version, char* error,
                                                                                   size_t size) {
  using namespace smoe::cuda;
  if (abi_version != SMOE_BACKEND_ABI_VERSION) {
    std::snprintf(error, size, "the CUDA plugin speaks backend ABI %u, libsmoe asked for %u", SMOE_BACKEND_ABI_VERSION,
                  abi_version);
    return nullptr;
  }
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::snprintf(error, size, "no usable CUDA device (%s)",
                  status != cudaSuccess ? cudaGetErrorString(status) : "none visible");
    return nullptr;
  }
  auto* state = new State;
  cudaDeviceProp properties{};
  cudaGetDeviceProperties(&properties, state->device);
  state->device_name = properties.name;
  cudaSetDevice(state->device);
  if (cudaStreamCreateWithFlags(&state->stream, cudaStreamNonBlocking) != cudaSuccess ||
      cudaMallocHost(&state->staging, kStagingBytes) != cudaSuccess) {
    std::snprintf(error, size, "cannot create a stream and pinned staging memory");
    destroy(state);
    return nullptr;
  }
  // Each open owns its struct (a static one was overwritten by a second model's open, leaving
  // the first model with the second's state).
  state->api = {
      SMOE_BACKEND_ABI_VERSION, "cuda", state->device_name.c_str(), state, memory_bytes, upload_expert, release,
      expert_forward,           destroy};
  return &state->api;
}
