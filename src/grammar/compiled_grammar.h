// A grammar ready for constrained decoding: parsed, checked, and shared. The state and
// mask caches it carries are built lazily, one per vocabulary, and reused by every
// request that uses the same grammar text.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace loom::grammar {

struct GrammarVocabulary;
class GrammarVocabCache;

class CompiledGrammar {
 public:
  CompiledGrammar(std::string source, Grammar grammar);
  const std::string& source() const { return source_; }  // the GBNF text
  const Grammar& grammar() const { return grammar_; }

  // The shared state/mask cache for this grammar over `vocab` (created on first use).
  std::shared_ptr<GrammarVocabCache> vocab_cache(
      const std::shared_ptr<const GrammarVocabulary>& vocab) const;

 private:
  std::string source_;
  Grammar grammar_;
  mutable std::mutex mutex_;
  mutable std::vector<std::shared_ptr<GrammarVocabCache>> caches_;  // one per vocabulary
};

// Parses and checks GBNF (see gbnf_parser.h for the notation and the errors, all
// loom::Error). Compiled grammars are cached by their text: the same text gives the
// same object, with its warm mask cache.
std::shared_ptr<const CompiledGrammar> compile_gbnf(std::string_view text);

}  // namespace loom::grammar
