// KV cache storage in f16, f32 or q8, head-major: (layer, KV head, position, head_dim), so
// attention streams one head's positions contiguously.
#include "model/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "quant/formats/block_q8a.h"
#include "quant/formats/half.h"
#include "quant/kernels.h"

namespace smoe::model {

KvCache::KvCache(uint32_t layers, uint32_t context, uint32_t kv_width, uint32_t slice, KvType type)
    : layers_(layers), context_(context), kv_width_(kv_width), slice_(slice), type_(type) {
  const size_t elements = size_t{layers} * context * kv_width;
  switch (type_) {
    case KvType::f32:
      keys_f32_.resize(elements);
      values_f32_.resize(elements);
      break;
    case KvType::f16:
      keys_f16_.resize(elements);
      values_f16_.resize(elements);
      break;
    case KvType::q8:
      keys_q8_.resize(elements);
      values_q8_.resize(elements);
      key_scales_.resize(elements / slice);
      value_scales_.resize(elements / slice);
      break;
  }
}

uint64_t KvCache::bytes_for(uint64_t layers, uint64_t context, uint64_t kv_width, uint64_t slice, KvType type) {
  const uint64_t elements = layers * context * kv_width;
  switch (type) {
    case KvType::f32: return 2 * elements * 4;
    case KvType::f16: return 2 * elements * 2;
    case KvType::q8: return 2 * (elements + elements / slice * 4);
  }
  return 0;
}

uint64_t KvCache::bytes() const {
  return (keys_f32_.size() + values_f32_.size() + key_scales_.size() + value_scales_.size()) * 4 +
         (keys_f16_.size() + values_f16_.size()) * 2 + keys_q8_.size() + values_q8_.size();
}

ResidentPages KvCache::resident_pages() const {
  const auto range = [](const auto& data) { return MemoryRange{data.data(), data.size() * sizeof(data[0])}; };
  const MemoryRange arrays[] = {range(keys_f32_), range(values_f32_), range(keys_f16_),  range(values_f16_),
                                range(keys_q8_),  range(values_q8_),  range(key_scales_), range(value_scales_)};
  return smoe::resident_pages(arrays);  // one read of smaps; the empty arrays are skipped
}

size_t KvCache::index(uint32_t layer, uint32_t position, uint32_t offset) const {
  const size_t heads = kv_width_ / slice_, head = offset / slice_;
  return ((size_t{layer} * heads + head) * context_ + position) * slice_ + offset % slice_;
}

void KvCache::store(uint32_t layer, uint32_t position, const float* k, const float* v) {
  for (uint32_t first = 0; first < kv_width_; first += slice_) {
    const size_t base = index(layer, position, first);
    if (type_ == KvType::q8) {
      key_scales_[base / slice_] = quant::quantize_symmetric(k + first, slice_, &keys_q8_[base]);
      value_scales_[base / slice_] = quant::quantize_symmetric(v + first, slice_, &values_q8_[base]);
      continue;
    }
    for (uint32_t i = 0; i < slice_; ++i) {
      if (type_ == KvType::f32) {
        keys_f32_[base + i] = k[first + i];
        values_f32_[base + i] = v[first + i];
      } else {
        keys_f16_[base + i] = quant::f32_to_f16(k[first + i]);
        values_f16_[base + i] = quant::f32_to_f16(v[first + i]);
      }
    }
  }
}

namespace {

template <class T>
void read_rows(const HugePageVector<T>& data, size_t base, size_t stride, uint32_t count, uint32_t n, float* out) {
  for (uint32_t p = 0; p < count; ++p) {
    const T* row = &data[base + p * stride];
    for (uint32_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, uint16_t>) {
        out[size_t{p} * n + i] = quant::f16_to_f32(row[i]);
      } else if constexpr (std::is_same_v<T, int8_t>) {
        out[size_t{p} * n + i] = float(row[i]);
      } else {
        out[size_t{p} * n + i] = row[i];
      }
    }
  }
}

}  // namespace

void KvCache::read_slices(bool values, uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, uint32_t n,
                          float* out) const {
  const size_t base = index(layer, first, offset);
  if (type_ == KvType::f32) return read_rows(values ? values_f32_ : keys_f32_, base, slice_, count, n, out);
  if (type_ == KvType::f16) return read_rows(values ? values_f16_ : keys_f16_, base, slice_, count, n, out);
  read_rows(values ? values_q8_ : keys_q8_, base, slice_, count, n, out);
  const HugePageVector<float>& scales = values ? value_scales_ : key_scales_;
  for (uint32_t p = 0; p < count; ++p) {
    const float scale = scales[base / slice_ + p];
    for (uint32_t i = 0; i < n; ++i) out[size_t{p} * n + i] *= scale;
  }
}

void KvCache::read_keys(uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, uint32_t n, float* out) const {
  read_slices(false, layer, first, count, offset, n, out);
}

void KvCache::read_values(uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, uint32_t n, float* out) const {
  read_slices(true, layer, first, count, offset, n, out);
}

void KvCache::key_scores(const quant::Kernels& kernels, uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, const float* q, uint32_t group,
                         uint32_t n, float* scores, size_t stride) const {
  const size_t base = index(layer, first, offset);
  switch (type_) {
    case KvType::f16: return kernels.key_scores_f16(&keys_f16_[base], nullptr, count, q, group, n, scores, stride);
    case KvType::q8: return kernels.key_scores_i8(&keys_q8_[base], &key_scales_[base / slice_], count, q, group, n, scores, stride);
    case KvType::f32: break;
  }
  for (uint32_t p = 0; p < count; ++p) {
    const float* key = &keys_f32_[base + size_t{p} * slice_];
    for (uint32_t j = 0; j < group; ++j) {
      float sum = 0.0f;
      for (uint32_t i = 0; i < n; ++i) sum += key[i] * q[size_t{j} * n + i];
      scores[j * stride + p] = sum;
    }
  }
}

void KvCache::add_values(const quant::Kernels& kernels, uint32_t layer, uint32_t first, uint32_t count, uint32_t offset, const float* weights,
                         size_t stride, uint32_t group, uint32_t n, float* out) const {
  const size_t base = index(layer, first, offset);
  switch (type_) {
    case KvType::f16: return kernels.value_sum_f16(weights, stride, &values_f16_[base], nullptr, count, group, n, out);
    case KvType::q8:
      return kernels.value_sum_i8(weights, stride, &values_q8_[base], &value_scales_[base / slice_], count, group, n, out);
    case KvType::f32: break;
  }
  for (uint32_t j = 0; j < group; ++j) {
    for (uint32_t p = 0; p < count; ++p) {
      const float weight = weights[j * stride + p];
      const float* value = &values_f32_[base + size_t{p} * slice_];
      for (uint32_t i = 0; i < n; ++i) out[size_t{j} * n + i] += weight * value[i];
    }
  }
}

template <class Visit>
void KvCache::for_each_piece(uint32_t count, Visit visit) const {
  // The exported order is position-major (layer, position, head), whatever the layout in
  // memory: saved sessions do not depend on it.
  const uint32_t heads = kv_width_ / slice_;
  auto rows = [&](const auto& data, uint32_t per_head) {  // elements per (position, head)
    using Element = typename std::decay_t<decltype(data)>::value_type;
    for (uint32_t layer = 0; layer < layers_; ++layer) {
      for (uint32_t position = 0; position < count; ++position) {
        for (uint32_t head = 0; head < heads; ++head) {
          const size_t element = index(layer, position, head * slice_) / slice_ * per_head;
          // const_cast: import_positions() (non-const) writes through the same walk.
          visit(const_cast<std::byte*>(reinterpret_cast<const std::byte*>(data.data() + element)), per_head * sizeof(Element));
        }
      }
    }
  };
  switch (type_) {
    case KvType::f32:
      rows(keys_f32_, slice_);
      rows(values_f32_, slice_);
      break;
    case KvType::f16:
      rows(keys_f16_, slice_);
      rows(values_f16_, slice_);
      break;
    case KvType::q8:
      rows(keys_q8_, slice_);
      rows(values_q8_, slice_);
      rows(key_scales_, 1);
      rows(value_scales_, 1);
      break;
  }
}

uint64_t KvCache::exported_bytes(uint32_t count) const {
  return bytes_for(layers_, count, kv_width_, slice_, type_);
}

std::vector<std::byte> KvCache::export_positions(uint32_t count) const {
  std::vector<std::byte> out;
  out.reserve(exported_bytes(count));
  for_each_piece(count, [&](const std::byte* data, size_t bytes) { out.insert(out.end(), data, data + bytes); });
  return out;
}

void KvCache::import_positions(uint32_t count, std::span<const std::byte> bytes) {
  if (count > context_ || bytes.size() != exported_bytes(count)) {
    throw std::invalid_argument("KV cache state of " + std::to_string(bytes.size()) + " bytes does not match " +
                                std::to_string(count) + " positions of this cache");
  }
  size_t at = 0;
  for_each_piece(count, [&](std::byte* data, size_t size) {
    std::memcpy(data, bytes.data() + at, size);
    at += size;
  });
}

}  // namespace smoe::model
