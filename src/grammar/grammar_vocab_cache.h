// What one compiled grammar knows about one vocabulary: the interned matcher states and,
// per state, the mask of tokens whose bytes the grammar accepts from that state. A mask
// depends only on the state, so it is computed once (one pass over the vocabulary trie)
// and reused by every sequence, every request and every step that reaches the state
// again. Thread-safe: one mutex, held for short lookups.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/grammar_vocabulary.h"
#include "grammar/state_space.h"

namespace loom::grammar {

// Bit i set: token i may follow.
using TokenMask = std::vector<uint64_t>;  // (ceil(n_vocab / 64))

class GrammarVocabCache {
 public:
  // Above this many bytes of cached masks the cache is emptied and refilled on demand.
  static constexpr size_t kMaxMaskBytes = size_t{8} << 20;

  GrammarVocabCache(const Grammar& grammar, std::shared_ptr<const GrammarVocabulary> vocab);

  const std::shared_ptr<const GrammarVocabulary>& vocab() const { return vocab_; }
  StateId initial() const { return initial_; }
  bool can_end(StateId state);
  StateId step(StateId state, std::string_view bytes);
  // The tokens (of the trie; end-of-generation tokens are not in it) allowed in `state`.
  std::shared_ptr<const TokenMask> mask(StateId state);

  size_t n_masks_computed() const { return n_masks_computed_; }

 private:
  std::shared_ptr<const TokenMask> compute_mask(StateId state);

  std::shared_ptr<const GrammarVocabulary> vocab_;
  std::mutex mutex_;
  StateSpace space_;
  StateId initial_;
  std::unordered_map<StateId, std::shared_ptr<const TokenMask>> masks_;
  std::vector<StateId> walk_;  // (max_depth + 1) state at each depth of the trie walk
  size_t n_masks_computed_ = 0;
};

}  // namespace loom::grammar
