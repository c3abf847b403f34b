// The matcher's states, interned and shared: a pushdown stack is a chain of nodes
// (element position + parent continuation), hash-consed so equal stacks have one id;
// a matcher state is the sorted set of stacks still alive (the "stack set" of
// llama.cpp), interned too; stepping a state by one byte is memoized. Because the same
// few states recur (inside a string, between object members ...), walking the
// vocabulary trie mostly costs one table lookup per trie node.
//
// Not thread-safe; GrammarVocabCache guards its StateSpace with a mutex.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "grammar/grammar.h"

namespace loom::grammar {

using StateId = uint32_t;
inline constexpr StateId kDeadState = 0;  // no stack alive: the input cannot be matched

class StateSpace {
 public:
  explicit StateSpace(const Grammar& grammar);

  StateId initial() const { return initial_; }
  // The state after one more byte of input; kDeadState when no stack accepts it.
  StateId step(StateId state, uint8_t byte);
  StateId step(StateId state, std::string_view bytes);
  // True when the input so far is a complete sentence of the grammar.
  bool can_end(StateId state) const { return accepting_[state]; }
  size_t n_states() const { return sets_.size(); }
  size_t n_stacks() const { return nodes_.size(); }

 private:
  // A stack node: continue at elements[pos] (a character class for the top node, where
  // utf8 holds a partly read code point), then with the stack `parent`.
  struct Node {
    uint32_t pos;
    uint32_t parent;
    uint32_t utf8;  // 0, or kPartial | len << 28 | remaining << 24 | bits so far
  };
  static constexpr uint32_t kAcceptNode = 0;  // the empty stack: the sentence is complete

  uint32_t intern_node(uint32_t pos, uint32_t parent, uint32_t utf8);
  // Appends the top nodes (character classes, or the empty stack) reached from
  // "continue at pos, then parent" by expanding rule references.
  void push_tops(uint32_t pos, uint32_t parent, std::vector<uint32_t>& out);
  void step_node(uint32_t node, uint8_t byte, std::vector<uint32_t>& out);
  void complete(const Node& node, uint32_t cp, std::vector<uint32_t>& out);
  StateId intern_set(std::vector<uint32_t>& nodes);

  struct VectorHash {
    size_t operator()(const std::vector<uint32_t>& v) const;
  };

  struct NodeHash {
    size_t operator()(const Node& n) const;
  };
  struct NodeEq {
    bool operator()(const Node& a, const Node& b) const {
      return a.pos == b.pos && a.parent == b.parent && a.utf8 == b.utf8;
    }
  };

  const Grammar& grammar_;
  std::vector<Node> nodes_;
  std::unordered_map<Node, uint32_t, NodeHash, NodeEq> node_ids_;
  std::vector<std::vector<uint32_t>> sets_;  // (n_states) sorted node ids
  std::vector<bool> accepting_;              // (n_states)
  std::unordered_map<std::vector<uint32_t>, StateId, VectorHash> set_ids_;
  StateId compute_step(StateId state, uint8_t byte);

  // Memoized step(): a 256-entry row per state for the first kMaxDenseRows states (one
  // load per trie node in the mask walk), then a hash table.
  static constexpr uint32_t kNoRow = UINT32_MAX;
  static constexpr StateId kUnknown = UINT32_MAX;
  static constexpr size_t kMaxDenseRows = 1 << 13;  // 8 MiB
  std::vector<uint32_t> row_of_state_;              // (n_states) row index into dense_, or kNoRow
  std::vector<StateId> dense_;                      // (n_rows, 256)
  // Open addressing on key (state << 8 | byte) + 1 (0 = empty slot).
  std::vector<uint64_t> transition_keys_;
  std::vector<StateId> transition_values_;
  size_t n_transitions_ = 0;
  std::unordered_set<uint64_t> visiting_;  // push_tops: (pos, parent) already expanded
  std::vector<uint32_t> scratch_;
  StateId initial_ = kDeadState;
};

}  // namespace loom::grammar
