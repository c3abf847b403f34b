// A grammar that switches on part-way (tool calls with tool_choice "auto"): the output is
// free until it reaches a trigger, then the grammar constrains the rest. The grammar's
// language starts with the trigger text, and the output from the trigger's first
// character is fed to it at that point, so a trigger that ends inside a token still works.
// A trigger that is the text of one control token (e.g. Mistral's [TOOL_CALLS]) fires when
// that token is sampled instead; the grammar then starts after it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "grammar/grammar_processor.h"

namespace loom::grammar {

struct GrammarTrigger {
  std::string text;
  bool at_start = false;  // only when the output, after leading whitespace, begins with it
};

class LazyGrammarProcessor : public LogitsProcessor {
 public:
  LazyGrammarProcessor(std::unique_ptr<GrammarProcessor> grammar,
                       std::shared_ptr<const GrammarVocabulary> vocab,
                       std::vector<GrammarTrigger> triggers, std::vector<int32_t> trigger_tokens);

  void apply(Candidates& candidates) override;
  void accept(int32_t token) override;
  void reset() override;

  bool active() const { return active_; }

 private:
  void check_triggers();

  std::unique_ptr<GrammarProcessor> grammar_;
  std::vector<GrammarTrigger> triggers_;
  std::vector<int32_t> trigger_tokens_;  // control tokens whose text is a trigger
  std::shared_ptr<const GrammarVocabulary> vocab_;
  std::string text_;      // the output so far, while not active
  size_t scan_from_ = 0;  // text_ before this holds no (accepted) trigger
  bool active_ = false;
};

// A lazy processor for one sequence; `triggers` must not be empty.
std::unique_ptr<LazyGrammarProcessor> make_lazy_grammar_processor(
    std::shared_ptr<const CompiledGrammar> grammar, const Tokenizer& tokenizer,
    std::vector<GrammarTrigger> triggers);

}  // namespace loom::grammar
