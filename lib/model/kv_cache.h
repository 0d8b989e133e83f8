// The attention KV cache of one session: per layer and KV head, keys and values of every
// position, (context, head_dim) each, in f16 (default), f32, or q8 (int8 with one f32 scale
// per head slice of a row: max|x| / 127, about 1.03 bytes per element for heads of 128). Not thread-safe to resize;
// positions may be read from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "quant/kernels.h"
#include "smoe/options.h"
#include "util/huge_pages.h"

namespace smoe::model {

class KvCache {
 public:
  // `slice` (the head size) is the width that shares one q8 scale; kv_width is a multiple of it.
  KvCache(uint32_t layers, uint32_t context, uint32_t kv_width, uint32_t slice, KvType type);

  // Bytes a cache of these dimensions takes (elements plus q8 scales).
  static uint64_t bytes_for(uint64_t layers, uint64_t context, uint64_t kv_width, uint64_t slice, KvType type);

  uint32_t context() const { return context_; }
  KvType type() const { return type_; }
  uint32_t layers() const { return layers_; }
  uint32_t slice() const { return slice_; }
  uint32_t kv_width() const { return kv_width_; }
  uint64_t bytes() const;
  // Resident bytes of the cache's arrays and how many sit in 2 MiB pages (/proc/self/smaps).
  ResidentPages resident_pages() const;

  // Positions [0, count) of every layer as bytes (keys, values, then q8 scales per layer), and
  // back: the saved-session and prompt-cache format of the cache. import_positions() checks
  // the byte count and throws std::invalid_argument when it does not match.
  std::vector<std::byte> export_positions(uint32_t count) const;
  void import_positions(uint32_t count, std::span<const std::byte> bytes);
  uint64_t exported_bytes(uint32_t count) const;

  // k, v (kv_width,) of `position` in `layer`.
  void store(uint32_t layer, uint32_t position, const float* k, const float* v);
  // Keys or values of positions [first, first + count), columns [offset, offset + n), as f32
  // rows (count, n): the batched prompt attention multiplies them with oneDNN.
  void read_keys(uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, uint32_t n, float* out) const;
  void read_values(uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, uint32_t n, float* out) const;

  // Attention over positions [first, first + count) of the KV head whose columns start at
  // `offset` (a whole head slice, n wide), for the `group` query heads sharing it, through the
  // attention kernels of `kernels` (the CPU plan's):
  // scores[j * stride + p - first] = key[p] . q[j], and
  // out[j * n + i] += sum_p weights[j * stride + p - first] * value[p][offset + i].
  void key_scores(const quant::Kernels& kernels, uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, const float* q, uint32_t group,
                  uint32_t n, float* scores, size_t stride) const;
  void add_values(const quant::Kernels& kernels, uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, const float* weights, size_t stride,
                  uint32_t group, uint32_t n, float* out) const;

 private:
  // Element index of column `offset` (within head offset / slice) of `position` in `layer`:
  // the layout is head-major, (layer, head, position, slice), so one head's positions are
  // contiguous for attention.
  size_t index(uint32_t layer, uint32_t position, uint32_t offset) const;
  // read_keys (values = false) and read_values (true).
  void read_slices(bool values, uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, uint32_t n,
                   float* out) const;
  // Calls visit(bytes pointer, size) for each contiguous piece of positions [0, count) of every
  // layer, in the export order: keys, values, then (q8) key and value scales, each per layer.
  template <class Visit>
  void for_each_piece(uint32_t count, Visit visit) const;
  uint32_t layers_;
  uint32_t context_;
  uint32_t kv_width_;
  uint32_t slice_;
  KvType type_;
  HugePageVector<float> keys_f32_, values_f32_;
  HugePageVector<uint16_t> keys_f16_, values_f16_;
  HugePageVector<int8_t> keys_q8_, values_q8_;
  HugePageVector<float> key_scales_, value_scales_;  // q8: one per (layer, slice, position)
};

}  // namespace smoe::model
