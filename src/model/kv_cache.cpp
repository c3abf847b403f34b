#include "model/kv_cache.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

namespace loom {

KvCache::KvCache(int64_t n_layer, int64_t n_slots, int64_t capacity, int64_t kv_dim, DType type)
    : n_layer_(n_layer), n_slots_(n_slots), capacity_(capacity), kv_dim_(kv_dim), type_(type) {
  if (type != DType::F16 && type != DType::F32) {
    fail("KV cache type must be f16 or f32, got {}", dtype_name(type));
  }
  element_bytes_ = type == DType::F16 ? 2 : 4;
  const size_t layer_bytes = static_cast<size_t>(n_slots * capacity * kv_dim * element_bytes_);
  keys_.resize(n_layer);
  values_.resize(n_layer);
  for (int64_t l = 0; l < n_layer; ++l) {
    keys_[l].resize(layer_bytes);
    values_[l].resize(layer_bytes);
  }
}

int64_t KvCache::bytes() const {
  return 2 * n_layer_ * n_slots_ * capacity_ * kv_dim_ * element_bytes_;
}

void* KvCache::keys(int64_t layer, int64_t slot) {
  return keys_[layer].data() + slot * capacity_ * kv_dim_ * element_bytes_;
}

void* KvCache::values(int64_t layer, int64_t slot) {
  return values_[layer].data() + slot * capacity_ * kv_dim_ * element_bytes_;
}

void KvCache::store(int64_t layer, int64_t slot, int64_t pos, const float* key,
                    const float* value) {
  const int64_t offset = pos * kv_dim_ * element_bytes_;
  uint8_t* k = static_cast<uint8_t*>(keys(layer, slot)) + offset;
  uint8_t* v = static_cast<uint8_t*>(values(layer, slot)) + offset;
  if (type_ == DType::F32) {
    std::memcpy(k, key, kv_dim_ * sizeof(float));
    std::memcpy(v, value, kv_dim_ * sizeof(float));
    return;
  }
  auto* k16 = reinterpret_cast<uint16_t*>(k);
  auto* v16 = reinterpret_cast<uint16_t*>(v);
  for (int64_t i = 0; i < kv_dim_; ++i) {
    k16[i] = fp32_to_fp16(key[i]);
    v16[i] = fp32_to_fp16(value[i]);
  }
}

void KvCache::copy_positions(int64_t from_slot, int64_t to_slot, int64_t n_positions) {
  if (from_slot == to_slot || n_positions <= 0) return;
  const size_t bytes = static_cast<size_t>(n_positions * kv_dim_ * element_bytes_);
  for (int64_t l = 0; l < n_layer_; ++l) {
    std::memcpy(keys(l, to_slot), keys(l, from_slot), bytes);
    std::memcpy(values(l, to_slot), values(l, from_slot), bytes);
  }
}

}  // namespace loom
