// Keys and values of every computed position, per layer, for a fixed number of sequence
// slots of `capacity` positions each. Stored in F16 by default (as the reference engine
// does; half the memory traffic of F32) or F32.
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/dtype.h"

namespace loom {

class KvCache {
 public:
  // type: DType::F16 or DType::F32.
  KvCache(int64_t n_layer, int64_t n_slots, int64_t capacity, int64_t kv_dim, DType type);

  int64_t n_slots() const { return n_slots_; }
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  DType type() const { return type_; }
  int64_t bytes() const;

  // Start of slot `slot`'s rows in layer `layer`: (capacity, kv_dim) elements of type().
  void* keys(int64_t layer, int64_t slot);
  void* values(int64_t layer, int64_t slot);
  // Writes one position's key and value rows (kv_dim f32 each), converting to type().
  void store(int64_t layer, int64_t slot, int64_t pos, const float* key, const float* value);
  // Copies positions [0, n_positions) of every layer from one slot to another.
  void copy_positions(int64_t from_slot, int64_t to_slot, int64_t n_positions);

 private:
  int64_t n_layer_, n_slots_, capacity_, kv_dim_;
  DType type_;
  int64_t element_bytes_;
  std::vector<AlignedBuffer<uint8_t>> keys_;    // (n_layer) of (n_slots, capacity, kv_dim)
  std::vector<AlignedBuffer<uint8_t>> values_;  // same
};

}  // namespace loom
