#include "runtime/prefix_cache.h"

#include <xxhash.h>

#include <algorithm>
#include <tuple>

namespace loom {

uint64_t PrefixCache::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  const uint64_t h = XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), parent);
  return h == 0 ? 1 : h;  // 0 means "no parent"
}

PrefixCache::Match PrefixCache::match(std::span<const int32_t> tokens, int64_t max_blocks) {
  Match m;
  const int64_t n =
      std::min<int64_t>(max_blocks, static_cast<int64_t>(tokens.size()) / block_size_);
  ++clock_;
  uint64_t parent = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::span<const int32_t> block_tokens = tokens.subspan(i * block_size_, block_size_);
    const uint64_t hash = chain_hash(parent, block_tokens);
    auto it = entries_.find(hash);
    if (it == entries_.end()) break;
    Entry& e = it->second;
    if (e.parent != parent || !std::equal(e.tokens.begin(), e.tokens.end(), block_tokens.begin()))
      break;  // a hash collision: treat as a miss
    e.last_used = clock_;
    m.blocks.push_back(e.block);
    m.hashes.push_back(hash);
    parent = hash;
  }
  return m;
}

void PrefixCache::insert(KvCache& kv, uint64_t parent, uint64_t hash,
                         std::span<const int32_t> tokens, int32_t block, int64_t depth) {
  auto [it, inserted] = entries_.try_emplace(hash);
  if (!inserted) {
    it->second.last_used = ++clock_;
    return;
  }
  Entry& e = it->second;
  e.block = block;
  e.parent = parent;
  e.tokens.assign(tokens.begin(), tokens.end());
  e.last_used = ++clock_;
  e.depth = depth;
  kv.retain(block);
}

int64_t PrefixCache::n_evictable(const KvCache& kv) const {
  int64_t n = 0;
  for (const auto& [hash, e] : entries_) n += kv.ref_count(e.block) == 1 ? 1 : 0;
  return n;
}

void PrefixCache::evict_until_free(KvCache& kv, int64_t n_free) {
  if (kv.n_free_blocks() >= n_free) return;
  // (last used, deeper first, hash) of every block only the cache holds.
  std::vector<std::tuple<uint64_t, int64_t, uint64_t>> candidates;
  for (const auto& [hash, e] : entries_) {
    if (kv.ref_count(e.block) == 1) candidates.emplace_back(e.last_used, -e.depth, hash);
  }
  std::sort(candidates.begin(), candidates.end());
  for (const auto& [used, depth, hash] : candidates) {
    if (kv.n_free_blocks() >= n_free) break;
    auto it = entries_.find(hash);
    kv.drop(it->second.block);
    entries_.erase(it);
  }
}

void PrefixCache::clear(KvCache& kv) {
  for (const auto& [hash, e] : entries_) kv.drop(e.block);
  entries_.clear();
}

}  // namespace loom
