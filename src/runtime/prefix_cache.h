// Prefix caching: every full KV block a sequence computes is remembered under a hash chain
// of its tokens (XXH3 of the block's tokens, seeded with the previous block's hash), so a
// later sequence whose tokens start the same way (a shared system prompt, few-shot
// examples, the earlier turns of a chat) takes those blocks instead of computing them.
//
// The cache holds one reference to each block it remembers. A block that only the cache
// holds is evictable: when the pool runs short, such blocks are freed least recently used
// first (and, among blocks used together, the deepest first, since a block is reachable
// only through its whole chain), so caching never makes a request wait or fail.
//
// Exact, not approximate: a hit also compares the block's tokens and its parent's hash,
// and a block's keys and values do not depend on what else was in the batch that computed
// them (batch-invariant kernels), so replies are identical with the cache on and off.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/kv_cache.h"

namespace loom {

struct PrefixCacheCounters {
  int64_t queried_tokens = 0;  // prompt tokens looked up
  int64_t hit_tokens = 0;      // of those, found in the cache (not computed again)
};

class PrefixCache {
 public:
  explicit PrefixCache(int64_t block_size) : block_size_(block_size) {}

  // The hash of a block holding `tokens` (one block's worth) after the block whose hash is
  // `parent` (0 before the first block).
  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);

  struct Match {
    std::vector<int32_t> blocks;   // cached blocks holding the first full blocks of tokens
    std::vector<uint64_t> hashes;  // their chain hashes
  };
  // The longest run of cached blocks that hold the first full blocks of `tokens`, at most
  // max_blocks of them. Marks them used now.
  Match match(std::span<const int32_t> tokens, int64_t max_blocks);
  // Counts a lookup of `queried` prompt tokens of which `hit` came from the cache.
  void count(int64_t queried, int64_t hit) {
    counters_.queried_tokens += queried;
    counters_.hit_tokens += hit;
  }

  // Remembers that `block` holds `tokens` at chain position `depth` with chain hash `hash`
  // after `parent`, taking a reference to it. Nothing changes when the hash is known.
  void insert(KvCache& kv, uint64_t parent, uint64_t hash, std::span<const int32_t> tokens,
              int32_t block, int64_t depth);

  // Blocks only the cache holds (they count as free space).
  int64_t n_evictable(const KvCache& kv) const;
  // Frees evictable blocks, least recently used first, until the pool has `n_free` free
  // blocks or nothing more can be evicted.
  void evict_until_free(KvCache& kv, int64_t n_free);
  // Forgets every block (each goes back to the pool unless a sequence holds it).
  void clear(KvCache& kv);

  int64_t n_cached() const { return static_cast<int64_t>(entries_.size()); }
  const PrefixCacheCounters& counters() const { return counters_; }

 private:
  struct Entry {
    int32_t block = -1;
    uint64_t parent = 0;
    std::vector<int32_t> tokens;  // (block_size) the block's tokens, compared on a hit
    uint64_t last_used = 0;
    int64_t depth = 0;  // block index in the sequence
  };

  int64_t block_size_;
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t clock_ = 0;
  PrefixCacheCounters counters_;
};

}  // namespace loom
