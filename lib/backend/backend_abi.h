/* The C interface between libsmoe and a compute backend plugin (libsmoe-<name>.so, e.g. the
 * CUDA plugin). Plain C so the plugin and the core may be built by different compilers; the
 * version number changes whenever this struct does. The core never links a backend: it
 * dlopen()s the plugin, asks its one entry point for this version, and falls back to the CPU
 * when there is no plugin, no driver, no device, or another version.
 *
 * Weights stay in the container's block formats: a plugin receives the mapped bytes of each
 * tensor (one expert's w1, w3, w2 as one placement unit) and must compute with them as they are. */
#ifndef SMOE_BACKEND_ABI_H
#define SMOE_BACKEND_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMOE_BACKEND_ABI_VERSION 1u
#define SMOE_BACKEND_ENTRY "smoe_backend_open"

/* One weight matrix as the container stores it. */
typedef struct smoe_backend_tensor {
  uint32_t type;     /* smoe tensor type id (docs/FORMAT.md) */
  uint64_t rows;     /* output features */
  uint64_t columns;  /* input features (the row length) */
  const void* data;  /* rows x row bytes, in the mapped file */
  uint64_t bytes;
} smoe_backend_tensor;

typedef struct smoe_backend {
  uint32_t abi_version; /* SMOE_BACKEND_ABI_VERSION */
  const char* name;     /* "cuda", "reference", ... */
  const char* device;   /* a human-readable device description */
  void* state;
  /* Bytes this backend can hold for weights. */
  uint64_t (*memory_bytes)(void* state);
  /* Uploads one SwiGLU expert (w1 gate, w3 up, w2 down). Returns a handle > 0, or 0 with a
   * message in `error` (e.g. out of device memory). */
  uint64_t (*upload_expert)(void* state, const smoe_backend_tensor* w1, const smoe_backend_tensor* w3,
                            const smoe_backend_tensor* w2, char* error, size_t error_size);
  void (*release)(void* state, uint64_t handle);
  /* out (n, dim) = w2 (silu(w1 x) * (w3 x)) for x (n, dim); host f32 buffers. 0 on success. */
  int (*expert_forward)(void* state, uint64_t handle, const float* x, uint64_t n, float* out, char* error,
                        size_t error_size);
  /* Frees `state` and this struct: each smoe_backend_open returns a struct of its own (one
   * process may hold several models on one backend), which libsmoe never touches after this. */
  void (*destroy)(void* state);
} smoe_backend;

/* The entry point a plugin exports: a backend for `abi_version`, or NULL with a message in
 * `error` when it cannot run here or speaks another version. */
typedef smoe_backend* (*smoe_backend_open_fn)(uint32_t abi_version, char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
