#include "grammar/grammar_vocab_cache.h"

namespace loom::grammar {

GrammarVocabCache::GrammarVocabCache(const Grammar& grammar,
                                     std::shared_ptr<const GrammarVocabulary> vocab)
    : vocab_(std::move(vocab)), space_(grammar), initial_(space_.initial()) {
  walk_.resize(vocab_->max_depth + 1u);
}

bool GrammarVocabCache::can_end(StateId state) {
  std::lock_guard lock(mutex_);
  return space_.can_end(state);
}

StateId GrammarVocabCache::step(StateId state, std::string_view bytes) {
  std::lock_guard lock(mutex_);
  return space_.step(state, bytes);
}

std::shared_ptr<const TokenMask> GrammarVocabCache::mask(StateId state) {
  std::lock_guard lock(mutex_);
  const auto it = masks_.find(state);
  if (it != masks_.end()) return it->second;
  const size_t mask_bytes = (static_cast<size_t>(vocab_->n_vocab) + 63) / 64 * 8;
  if ((masks_.size() + 1) * mask_bytes > kMaxMaskBytes) masks_.clear();
  auto computed = compute_mask(state);
  masks_.emplace(state, computed);
  return computed;
}

std::shared_ptr<const TokenMask> GrammarVocabCache::compute_mask(StateId state) {
  ++n_masks_computed_;
  auto mask = std::make_shared<TokenMask>((static_cast<size_t>(vocab_->n_vocab) + 63) / 64, 0);
  uint64_t* bits = mask->data();
  const std::vector<TrieNode>& nodes = vocab_->nodes;
  const int32_t* tokens = vocab_->tokens.data();
  walk_[0] = state;
  const auto n_nodes = static_cast<uint32_t>(nodes.size());
  for (uint32_t i = 1; i < n_nodes;) {
    const TrieNode& node = nodes[i];
    const StateId next = space_.step(walk_[node.depth - 1], node.byte);
    if (next == kDeadState) {
      i = node.subtree_end;  // no token through this prefix
      continue;
    }
    walk_[node.depth] = next;
    for (uint32_t t = 0; t < node.n_tokens; ++t) {
      const int32_t id = tokens[node.token_begin + t];
      bits[id >> 6] |= uint64_t{1} << (id & 63);
    }
    ++i;
  }
  return mask;
}

}  // namespace loom::grammar
