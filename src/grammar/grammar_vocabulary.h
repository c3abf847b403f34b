// A vocabulary as the grammar mask sees it: every token's bytes in a trie laid out in
// preorder, so one linear pass over the nodes, skipping the subtrees the grammar
// rejects, finds all allowed tokens. Built once per tokenizer and shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loom {
class Tokenizer;
}

namespace loom::grammar {

struct TrieNode {
  uint8_t byte;          // the byte on the edge from the parent (unused for the root)
  uint16_t depth;        // root 0
  uint32_t subtree_end;  // index of the first node after this node's subtree
  uint32_t token_begin;  // this node's tokens: tokens[token_begin, token_begin + n_tokens)
  uint32_t n_tokens;
};

struct GrammarVocabulary {
  int32_t n_vocab = 0;
  std::vector<TrieNode> nodes;             // (n_nodes) preorder; nodes[0] is the root
  std::vector<int32_t> tokens;             // token ids grouped by trie node
  std::vector<std::string> pieces;         // (n_vocab) bytes of each token (empty for banned ones)
  std::vector<uint8_t> end_of_generation;  // (n_vocab) 1 for EOS/EOT-like tokens
  std::vector<uint64_t> end_of_generation_bits;  // (ceil(n_vocab / 64)) the same as bits
  std::vector<uint8_t> in_trie;                  // (n_vocab) 1 for tokens the grammar may allow
  uint16_t max_depth = 0;

  // Normal, user-defined and byte tokens with a non-empty piece go into the trie;
  // control, unknown and unused tokens never match a grammar; end-of-generation tokens
  // are allowed separately, where the grammar may end.
  static std::shared_ptr<const GrammarVocabulary> build(const Tokenizer& tokenizer);
  // build(), cached per live tokenizer object (checked by size and a sample of pieces).
  static std::shared_ptr<const GrammarVocabulary> for_tokenizer(const Tokenizer& tokenizer);
};

}  // namespace loom::grammar
