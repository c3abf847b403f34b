// The grammar as one link of the sampling chain: apply() removes every candidate whose
// bytes cannot continue the output under the grammar, accept() advances the matcher.
// End-of-generation tokens survive only where the grammar may end; control tokens never.
// Place it before greedy argmax and before truncation (top-k/top-p/min-p) so those see
// only tokens the grammar allows.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar_vocab_cache.h"
#include "sampling/logits_processor.h"

namespace loom {
class Tokenizer;
}

namespace loom::grammar {

class GrammarProcessor : public LogitsProcessor {
 public:
  GrammarProcessor(std::shared_ptr<const CompiledGrammar> grammar,
                   std::shared_ptr<const GrammarVocabulary> vocab);

  // loom::Error when no candidate is allowed (the grammar needs a character no token of
  // the vocabulary can spell; the engine must not sample unconstrained then).
  void apply(Candidates& candidates) override;
  // loom::Error when `token` is not allowed here (it did not come from apply()).
  void accept(int32_t token) override;
  void reset() override;
  // Advances over text that is already in the output (a lazy grammar's trigger); false,
  // and the state unchanged, when the grammar does not allow it here.
  bool accept_text(std::string_view text);

  // True once an end-of-generation token was accepted.
  bool finished() const { return finished_; }
  // True when the output so far is a complete sentence of the grammar.
  bool can_end() const;
  // True when `token` may come next (what apply() keeps).
  bool allows(int32_t token) const;
  // Copies share the grammar's caches and continue independently (for n, best_of,
  // beam search).
  std::unique_ptr<GrammarProcessor> clone() const;

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  std::shared_ptr<const GrammarVocabulary> vocab_;
  std::shared_ptr<GrammarVocabCache> cache_;
  StateId state_;
  bool finished_ = false;
};

// A processor for one sequence. The vocabulary index is built on first use per
// tokenizer (about 20-60 ms) and cached.
std::unique_ptr<GrammarProcessor> make_grammar_processor(
    std::shared_ptr<const CompiledGrammar> grammar, const Tokenizer& tokenizer);

}  // namespace loom::grammar
