#include "grammar/grammar_processor.h"

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
  const uint8_t* eog = vocab_->end_of_generation.data();
  std::vector<TokenCandidate>& items = candidates.items;
  size_t kept = 0;
  for (const TokenCandidate& c : items) {
    const int32_t id = c.id;
    if (id < 0 || id >= n_vocab) continue;
    const bool allowed = eog[id] ? end_ok : (bits != nullptr && ((bits[id >> 6] >> (id & 63)) & 1));
    if (allowed) items[kept++] = c;
  }
  if (kept == 0 && !items.empty()) {
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
