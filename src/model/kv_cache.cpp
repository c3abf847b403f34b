#include "model/kv_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/quantize.h"

namespace loom {
namespace {

// Anonymous mapping: zero pages that become resident only when written, so the pool's
// resident memory follows the blocks sequences have actually used.
uint8_t* map_pool(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fail("cannot reserve {} bytes for the KV cache", bytes);
  return static_cast<uint8_t*>(p);
}

}  // namespace

void KvCache::Unmap::operator()(uint8_t* p) const {
  munmap(p, bytes);
}

KvCache::KvCache(int64_t n_layer, int64_t n_slots, int64_t n_tokens, int64_t kv_dim, DType type,
                 int64_t block_size)
    : n_layer_(n_layer),
      kv_dim_(kv_dim),
      type_(type),
      block_size_(block_size),
      pool_(nullptr, Unmap{0}) {
  if (type != DType::F16 && type != DType::F32 && type != DType::Q8_0) {
    fail("KV cache type must be f16, f32 or q8_0, got {}", dtype_name(type));
  }
  if (n_layer < 1 || kv_dim < 1)
    fail("KV cache needs layers and a row size, got {} x {}", n_layer, kv_dim);
  if (n_slots < 1) fail("KV cache needs at least one sequence slot, got {}", n_slots);
  if (block_size < 1) fail("KV cache block size must be >= 1, got {}", block_size);
  if (n_tokens < 1) fail("KV cache size must be at least one token, got {}", n_tokens);
  if (type == DType::Q8_0 && kv_dim % 32 != 0) {
    fail("a q8_0 KV cache needs rows that are a multiple of 32 elements; this model's are {}",
         kv_dim);
  }
  n_blocks_ = blocks_for(n_tokens);
  if (n_blocks_ > std::numeric_limits<int32_t>::max())
    fail("KV cache of {} tokens is too large", n_tokens);
  row_bytes_ = row_bytes(type, kv_dim);
  part_bytes_ = block_size_ * row_bytes_;
  block_bytes_ = 2 * n_layer_ * part_bytes_;
  const auto pool_bytes = static_cast<size_t>(n_blocks_ * block_bytes_);
  pool_ = std::unique_ptr<uint8_t, Unmap>(map_pool(pool_bytes), Unmap{pool_bytes});
  ref_counts_.assign(static_cast<size_t>(n_blocks_), 0);
  free_.resize(static_cast<size_t>(n_blocks_));
  // Block 0 on top: the lowest blocks are reused first, which keeps few pages resident.
  for (int64_t i = 0; i < n_blocks_; ++i) free_[i] = static_cast<int32_t>(n_blocks_ - 1 - i);
  tables_.resize(static_cast<size_t>(n_slots));
}

KvCache::~KvCache() = default;

int32_t KvCache::take_block() {
  const int32_t block = free_.back();
  free_.pop_back();
  ref_counts_[block] = 1;
  return block;
}

void KvCache::drop_block(int32_t block) {
  if (--ref_counts_[block] == 0) free_.push_back(block);
}

int64_t KvCache::blocks_needed(int64_t slot, int64_t begin, int64_t end) const {
  if (end <= begin) return 0;
  const std::vector<int32_t>& table = tables_.at(slot);
  const int64_t have = static_cast<int64_t>(table.size());
  const int64_t want = blocks_for(end);
  int64_t needed = std::max<int64_t>(0, want - have);
  for (int64_t i = begin / block_size_; i < std::min(have, want); ++i) {
    if (table[i] == kNoBlock)
      fail("position {} of KV slot {} was released", i * block_size_, slot);
    if (ref_counts_[table[i]] > 1) ++needed;  // shared: written, so copied first
  }
  return needed;
}

void KvCache::reserve(int64_t slot, int64_t begin, int64_t end) {
  const int64_t needed = blocks_needed(slot, begin, end);
  if (needed == 0) return;
  if (needed > n_free_blocks()) {
    fail(
        "the KV cache is full: a sequence needs {} more blocks of {} positions but {} of {} are "
        "free (the cache holds {} tokens)",
        needed, block_size_, n_free_blocks(), n_blocks_, capacity_tokens());
  }
  std::vector<int32_t>& table = tables_[slot];
  const int64_t want = blocks_for(end);
  for (int64_t i = begin / block_size_; i < std::min<int64_t>(table.size(), want); ++i) {
    const int32_t shared = table[i];
    if (ref_counts_[shared] == 1) continue;
    const int32_t copy = take_block();
    std::memcpy(block_data(copy), block_data(shared), static_cast<size_t>(block_bytes_));
    drop_block(shared);
    table[i] = copy;
  }
  while (static_cast<int64_t>(table.size()) < want) table.push_back(take_block());
}

void KvCache::share(int64_t from, int64_t to, int64_t n_positions) {
  if (from == to) return;
  const std::vector<int32_t>& source = tables_.at(from);
  const int64_t n = blocks_for(n_positions);
  if (n > static_cast<int64_t>(source.size())) {
    fail("cannot share {} positions of a sequence that holds {}", n_positions,
         static_cast<int64_t>(source.size()) * block_size_);
  }
  release(to);
  std::vector<int32_t>& target = tables_[to];
  for (int64_t i = 0; i < n; ++i) {
    target.push_back(source[i]);
    if (source[i] != kNoBlock) ++ref_counts_[source[i]];
  }
}

void KvCache::release(int64_t slot) {
  std::vector<int32_t>& table = tables_.at(slot);
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    if (*it != kNoBlock) drop_block(*it);
  }
  table.clear();
}

void KvCache::attach(int64_t slot, const std::vector<int32_t>& blocks) {
  std::vector<int32_t>& table = tables_.at(slot);
  if (!table.empty()) fail("sequence {} already holds {} blocks", slot, table.size());
  for (int32_t block : blocks) {
    if (block < 0 || block >= n_blocks_ || ref_counts_[block] == 0)
      fail("block {} is not in use: only cached blocks can be attached", block);
    ++ref_counts_[block];
    table.push_back(block);
  }
}

void KvCache::truncate(int64_t slot, int64_t n_positions) {
  std::vector<int32_t>& table = tables_.at(slot);
  const auto keep = static_cast<size_t>(blocks_for(n_positions));
  while (table.size() > keep) {
    if (table.back() != kNoBlock) drop_block(table.back());
    table.pop_back();
  }
}

void KvCache::release_before(int64_t slot, int64_t pos) {
  std::vector<int32_t>& table = tables_.at(slot);
  const int64_t n = std::min<int64_t>(pos / block_size_, static_cast<int64_t>(table.size()));
  for (int64_t i = 0; i < n; ++i) {
    if (table[i] == kNoBlock) continue;
    drop_block(table[i]);
    table[i] = kNoBlock;
  }
}

void KvCache::store(int64_t layer, int64_t slot, int64_t pos, const float* key,
                    const float* value) {
  std::vector<int32_t>& table = tables_[slot];
  const int64_t index = pos / block_size_;
  if (index >= static_cast<int64_t>(table.size()) || ref_counts_[table[index]] != 1) {
    reserve(slot, pos, pos + 1);
  }
  uint8_t* k =
      block_data(table[index]) + 2 * layer * part_bytes_ + (pos % block_size_) * row_bytes_;
  uint8_t* v = k + part_bytes_;
  if (type_ == DType::F32) {
    std::memcpy(k, key, kv_dim_ * sizeof(float));
    std::memcpy(v, value, kv_dim_ * sizeof(float));
  } else if (type_ == DType::Q8_0) {
    kernels::quantize_row(DType::Q8_0, key, k, kv_dim_);
    kernels::quantize_row(DType::Q8_0, value, v, kv_dim_);
  } else {
    auto* k16 = reinterpret_cast<uint16_t*>(k);
    auto* v16 = reinterpret_cast<uint16_t*>(v);
    for (int64_t i = 0; i < kv_dim_; ++i) {
      k16[i] = fp32_to_fp16(key[i]);
      v16[i] = fp32_to_fp16(value[i]);
    }
  }
}

kernels::KvView KvCache::view(int64_t layer, int64_t slot, int64_t head_offset) const {
  kernels::KvView v;
  v.keys = pool_.get() + 2 * layer * part_bytes_;
  v.values = v.keys + part_bytes_;
  v.blocks = tables_[slot].data();
  v.block_size = block_size_;
  v.block_stride = block_bytes_;
  v.type = type_;
  v.row_stride = kv_dim_;
  v.offset = head_offset;
  return v;
}

}  // namespace loom
