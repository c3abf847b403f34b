// The paged KV cache: keys and values of every computed position, for every layer, in
// fixed-size blocks of `block_size` positions taken from one shared pool (vLLM's
// PagedAttention). Each sequence slot has a block table; a sequence takes blocks as it
// grows and returns them when released, so a 10-token sequence holds one block, not a
// whole context. The pool's memory is mapped lazily: pages become resident only when a
// block is first written.
//
// Forks share blocks: share() copies a block table and counts references; a block that
// is shared is copied (copy-on-write) only when one of its owners writes into it, which
// happens only to the last, partly filled block of a forked sequence.
//
// A model whose every layer attends only to a sliding window frees the blocks that have
// left the window (release_before): a long Mistral-style generation holds window/16 + 1
// blocks, not its whole length.
//
// Element types: F16 (the default, as the reference engine stores it), F32, or Q8_0
// (blocks of 32 along the row, each an fp16 scale and 32 int8, as ggml's).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention.h"

namespace loom {

class KvCache {
 public:
  static constexpr int64_t kDefaultBlockSize = 16;

  // n_slots block tables (one per sequence slot) over a pool of ceil(n_tokens / block_size) blocks,
  // each holding block_size positions of every layer. type: F16, F32 or Q8_0 (Q8_0 needs kv_dim to
  // be a multiple of 32). loom::Error for a bad shape or type.
  KvCache(int64_t n_layer, int64_t n_slots, int64_t n_tokens, int64_t kv_dim, DType type,
          int64_t block_size = kDefaultBlockSize);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t n_layer() const { return n_layer_; }
  int64_t n_slots() const { return static_cast<int64_t>(tables_.size()); }
  int64_t kv_dim() const { return kv_dim_; }
  DType type() const { return type_; }
  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t n_free_blocks() const { return static_cast<int64_t>(free_.size()); }
  int64_t n_used_blocks() const { return n_blocks_ - n_free_blocks(); }
  int64_t capacity_tokens() const { return n_blocks_ * block_size_; }
  int64_t bytes() const { return n_blocks_ * block_bytes_; }  // the whole pool
  int64_t blocks_for(int64_t n_positions) const {
    return (n_positions + block_size_ - 1) / block_size_;
  }

  // Blocks reserve(slot, begin, end) would take from the pool.
  int64_t blocks_needed(int64_t slot, int64_t begin, int64_t end) const;
  // Makes positions [begin, end) of `slot` writable: takes blocks up to position `end`
  // and gives shared blocks in that range a private copy. loom::Error (nothing changed)
  // when the pool has too few free blocks.
  void reserve(int64_t slot, int64_t begin, int64_t end);
  // Makes `to` hold the same positions [0, n_positions) as `from` by sharing its blocks;
  // `to`'s own blocks are released first.
  void share(int64_t from, int64_t to, int64_t n_positions);
  // Returns every block of `slot` (those no other sequence shares go back to the pool).
  void release(int64_t slot);
  // Gives the empty slot the given blocks as its first positions, sharing them
  // (prefix caching: blocks another sequence computed for the same tokens).
  void attach(int64_t slot, const std::vector<int32_t>& blocks);
  // An owner that is not a sequence (the prefix cache) takes or drops a reference to a
  // block; a block nobody references goes back to the pool.
  void retain(int32_t block) { ++ref_counts_.at(block); }
  void drop(int32_t block) { drop_block(block); }
  // Keeps only the blocks of `slot` that hold positions before n_positions (rolling back
  // positions computed for rejected draft tokens; the rest of the last block is rewritten).
  void truncate(int64_t slot, int64_t n_positions);
  // Returns the blocks of `slot` that hold only positions before `pos` (they have left every
  // layer's sliding window); their table entries become kNoBlock. Positions before `pos`
  // must never be read or written again.
  void release_before(int64_t slot, int64_t pos);
  static constexpr int32_t kNoBlock = -1;

  // Writes one position's key and value rows (kv_dim f32 each), converting to type().
  // Reserves the position first if the caller has not.
  void store(int64_t layer, int64_t slot, int64_t pos, const float* key, const float* value);
  // The attention kernel's view of `slot`'s rows in `layer`, for the head slice starting
  // at element head_offset. Valid until the sequence's block table next changes.
  kernels::KvView view(int64_t layer, int64_t slot, int64_t head_offset) const;

  // Introspection for tests and metrics.
  const std::vector<int32_t>& block_table(int64_t slot) const { return tables_.at(slot); }
  int32_t ref_count(int32_t block) const { return ref_counts_.at(block); }

 private:
  int32_t take_block();
  void drop_block(int32_t block);
  uint8_t* block_data(int32_t block) { return pool_.get() + block * block_bytes_; }

  struct Unmap {
    size_t bytes;
    void operator()(uint8_t* p) const;
  };

  int64_t n_layer_, kv_dim_;
  DType type_;
  int64_t block_size_, n_blocks_;
  int64_t row_bytes_;    // one position's row of one layer, K or V
  int64_t part_bytes_;   // (block_size, row) of one layer, K or V
  int64_t block_bytes_;  // (n_layer, 2 [K, V], block_size, row): one block of every layer
  std::unique_ptr<uint8_t, Unmap> pool_;      // (n_blocks) blocks, mapped lazily
  std::vector<int32_t> ref_counts_;           // (n_blocks) owners of each block; 0 = free
  std::vector<int32_t> free_;                 // free block ids, taken from the back
  std::vector<std::vector<int32_t>> tables_;  // (n_slots) block ids by position / block_size
};

}  // namespace loom
