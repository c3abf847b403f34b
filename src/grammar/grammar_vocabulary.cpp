#include "grammar/grammar_vocabulary.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar {
namespace {

size_t fingerprint(const Tokenizer& tokenizer) {
  size_t h = std::hash<int32_t>()(tokenizer.n_vocab()) ^ (size_t(tokenizer.eos_id()) << 20);
  const int32_t n = tokenizer.n_vocab();
  const int32_t stride = std::max(1, n / 257);
  for (int32_t id = 0; id < n; id += stride) {
    h = h * 1099511628211ULL ^ std::hash<std::string>()(tokenizer.token_text(id));
  }
  return h;
}

}  // namespace

std::shared_ptr<const GrammarVocabulary> GrammarVocabulary::build(const Tokenizer& tokenizer) {
  auto vocab = std::make_shared<GrammarVocabulary>();
  const int32_t n = tokenizer.n_vocab();
  vocab->n_vocab = n;
  vocab->pieces.resize(n);
  vocab->end_of_generation.assign(n, 0);
  vocab->in_trie.assign(n, 0);
  vocab->end_of_generation_bits.assign((static_cast<size_t>(n) + 63) / 64, 0);
  std::vector<int32_t> order;
  for (int32_t id = 0; id < n; ++id) {
    if (tokenizer.is_end_of_generation(id)) {
      vocab->end_of_generation[id] = 1;
      vocab->end_of_generation_bits[id >> 6] |= uint64_t{1} << (id & 63);
      continue;
    }
    const TokenType type = tokenizer.token_type(id);
    if (type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUnused) {
      continue;
    }
    std::string piece = tokenizer.token_to_piece(id, /*render_special=*/false);
    if (piece.empty() || piece.size() > 0xFFFF) continue;
    vocab->pieces[id] = std::move(piece);
    vocab->in_trie[id] = 1;
    order.push_back(id);
  }
  const auto& pieces = vocab->pieces;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return pieces[a] != pieces[b] ? pieces[a] < pieces[b] : a < b;
  });
  // Sorted pieces give the trie in preorder: each piece shares its longest common prefix
  // with the previous one and opens new nodes below it.
  std::vector<TrieNode>& nodes = vocab->nodes;
  nodes.push_back({0, 0, 0, 0, 0});
  std::vector<uint32_t> path{0};  // path[d] = node at depth d on the current branch
  const std::string* previous = nullptr;
  for (int32_t id : order) {
    const std::string& piece = pieces[id];
    size_t common = 0;
    if (previous != nullptr) {
      const size_t limit = std::min(previous->size(), piece.size());
      while (common < limit && (*previous)[common] == piece[common]) ++common;
    }
    while (path.size() > common + 1) {
      nodes[path.back()].subtree_end = static_cast<uint32_t>(nodes.size());
      path.pop_back();
    }
    for (size_t d = common; d < piece.size(); ++d) {
      path.push_back(static_cast<uint32_t>(nodes.size()));
      nodes.push_back({static_cast<uint8_t>(piece[d]), static_cast<uint16_t>(d + 1), 0,
                       static_cast<uint32_t>(vocab->tokens.size()), 0});
    }
    TrieNode& leaf = nodes[path.back()];
    if (leaf.n_tokens == 0) leaf.token_begin = static_cast<uint32_t>(vocab->tokens.size());
    vocab->tokens.push_back(id);
    ++leaf.n_tokens;
    vocab->max_depth = std::max<uint16_t>(vocab->max_depth, static_cast<uint16_t>(piece.size()));
    previous = &piece;
  }
  for (uint32_t node : path) nodes[node].subtree_end = static_cast<uint32_t>(nodes.size());
  return vocab;
}

std::shared_ptr<const GrammarVocabulary> GrammarVocabulary::for_tokenizer(
    const Tokenizer& tokenizer) {
  struct Entry {
    size_t fingerprint;
    std::shared_ptr<const GrammarVocabulary> vocab;
  };
  static std::mutex mutex;
  static std::unordered_map<const Tokenizer*, Entry> cache;
  const size_t fp = fingerprint(tokenizer);
  std::lock_guard lock(mutex);
  auto it = cache.find(&tokenizer);
  if (it != cache.end() && it->second.fingerprint == fp) return it->second.vocab;
  auto vocab = build(tokenizer);
  if (cache.size() >= 16) cache.clear();  // a handful of models per process
  cache[&tokenizer] = {fp, vocab};
  return vocab;
}

}  // namespace loom::grammar
