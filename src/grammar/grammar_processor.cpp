#include "grammar/grammar_processor.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar {

GrammarProcessor::GrammarProcessor(std::shared_ptr<const CompiledGrammar> grammar,
                                   std::shared_ptr<const GrammarVocabulary> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)) {
  cache_ = grammar_->vocab_cache(vocab_);
  state_ = cache_->initial();
}

bool GrammarProcessor::can_end() const {
  return !finished_ && cache_->can_end(state_);
}

bool GrammarProcessor::allows(int32_t token) const {
  if (token < 0 || token >= vocab_->n_vocab) return false;
  if (vocab_->end_of_generation[token]) return finished_ || cache_->can_end(state_);
  if (finished_) return false;
  const auto mask = cache_->mask(state_);
  return ((*mask)[token >> 6] >> (token & 63)) & 1;
}

void GrammarProcessor::apply(Candidates& candidates) {
  const bool end_ok = finished_ || cache_->can_end(state_);
  const auto mask = finished_ ? nullptr : cache_->mask(state_);
  const uint64_t* bits = mask ? mask->data() : nullptr;
  const int32_t n_vocab = vocab_->n_vocab;
  std::vector<TokenCandidate>& items = candidates.items;
  const size_t n = items.size();
  size_t kept = 0;
  // Fast path for a fresh row (candidate i is token i, as Candidates::assign leaves it):
  // visit only the set bits of the mask.
  bool by_id = !candidates.sorted;
  for (size_t i = 0; by_id && i < n; ++i) by_id = items[i].id == static_cast<int32_t>(i);
  if (by_id) {
    const size_t n_words = (std::min(n, static_cast<size_t>(n_vocab)) + 63) / 64;
    const uint64_t* eog_bits = vocab_->end_of_generation_bits.data();
    for (size_t w = 0; w < n_words; ++w) {
      uint64_t word = (bits != nullptr ? bits[w] : 0) | (end_ok ? eog_bits[w] : 0);
      if ((w + 1) * 64 > n) word &= (uint64_t{1} << (n - w * 64)) - 1;
      while (word != 0) {
        items[kept++] = items[w * 64 + static_cast<size_t>(__builtin_ctzll(word))];
        word &= word - 1;
      }
    }
  } else {
    const uint8_t* eog = vocab_->end_of_generation.data();
    for (const TokenCandidate& c : items) {
      const int32_t id = c.id;
      if (id < 0 || id >= n_vocab) continue;
      const bool allowed =
          eog[id] ? end_ok : (bits != nullptr && ((bits[id >> 6] >> (id & 63)) & 1));
      if (allowed) items[kept++] = c;
    }
  }
  if (kept == 0 && n != 0) {
    fail(
        "grammar: no token of the vocabulary can continue the output here (the grammar "
        "needs a character the vocabulary cannot spell)");
  }
  items.resize(kept);
  candidates.has_probs = false;  // the survivors' probabilities no longer sum to one
}

void GrammarProcessor::accept(int32_t token) {
  if (token < 0 || token >= vocab_->n_vocab) fail("grammar: token id {} is out of range", token);
  if (finished_) fail("grammar: token {} after the end of the output", token);
  if (vocab_->end_of_generation[token]) {
    if (!cache_->can_end(state_)) {
      fail("grammar: end-of-generation token {} where the grammar cannot end yet", token);
    }
    finished_ = true;
    return;
  }
  if (!vocab_->in_trie[token]) fail("grammar: token {} is a control token", token);
  const StateId next = cache_->step(state_, vocab_->pieces[token]);
  if (next == kDeadState) {
    fail("grammar: token {} ({:?}) does not fit the grammar here", token, vocab_->pieces[token]);
  }
  state_ = next;
}

bool GrammarProcessor::accept_text(std::string_view text) {
  if (finished_) return false;
  const StateId next = cache_->step(state_, text);
  if (next == kDeadState) return false;
  state_ = next;
  return true;
}

void GrammarProcessor::reset() {
  state_ = cache_->initial();
  finished_ = false;
}

std::unique_ptr<GrammarProcessor> GrammarProcessor::clone() const {
  return std::make_unique<GrammarProcessor>(*this);
}

std::unique_ptr<GrammarProcessor> make_grammar_processor(
    std::shared_ptr<const CompiledGrammar> grammar, const Tokenizer& tokenizer) {
  if (!grammar) fail("grammar: make_grammar_processor needs a compiled grammar");
  return std::make_unique<GrammarProcessor>(std::move(grammar),
                                            GrammarVocabulary::for_tokenizer(tokenizer));
}

}  // namespace loom::grammar
