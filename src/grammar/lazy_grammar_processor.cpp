#include "grammar/lazy_grammar_processor.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar {

LazyGrammarProcessor::LazyGrammarProcessor(std::unique_ptr<GrammarProcessor> grammar,
                                           std::shared_ptr<const GrammarVocabulary> vocab,
                                           std::vector<GrammarTrigger> triggers,
                                           std::vector<int32_t> trigger_tokens)
    : grammar_(std::move(grammar)),
      triggers_(std::move(triggers)),
      trigger_tokens_(std::move(trigger_tokens)),
      vocab_(std::move(vocab)) {}

void LazyGrammarProcessor::apply(Candidates& candidates) {
  if (active_) grammar_->apply(candidates);
}

void LazyGrammarProcessor::accept(int32_t token) {
  if (active_) {
    grammar_->accept(token);
    return;
  }
  if (std::find(trigger_tokens_.begin(), trigger_tokens_.end(), token) != trigger_tokens_.end()) {
    active_ = true;
    return;
  }
  if (token >= 0 && token < vocab_->n_vocab) text_ += vocab_->pieces[token];
  check_triggers();
}

void LazyGrammarProcessor::check_triggers() {
  const size_t lead = text_.find_first_not_of(" \t\r\n");
  size_t best = std::string::npos;
  for (const GrammarTrigger& trigger : triggers_) {
    size_t at = std::string::npos;
    if (trigger.at_start) {
      if (lead != std::string::npos && text_.compare(lead, trigger.text.size(), trigger.text) == 0)
        at = lead;
    } else {
      at = text_.find(trigger.text, scan_from_);
    }
    best = std::min(best, at);
  }
  size_t longest = 1;
  for (const GrammarTrigger& trigger : triggers_) longest = std::max(longest, trigger.text.size());
  // A later match starts in the text not yet searched or overlaps its start.
  scan_from_ = text_.size() >= longest ? text_.size() - longest + 1 : 0;
  if (best == std::string::npos) return;
  // Text the grammar rejects (a trigger inside something else) leaves the output free.
  if (grammar_->accept_text(std::string_view(text_).substr(best))) {
    active_ = true;
    text_.clear();
  }
}

void LazyGrammarProcessor::reset() {
  grammar_->reset();
  text_.clear();
  scan_from_ = 0;
  active_ = false;
}

std::unique_ptr<LazyGrammarProcessor> make_lazy_grammar_processor(
    std::shared_ptr<const CompiledGrammar> grammar, const Tokenizer& tokenizer,
    std::vector<GrammarTrigger> triggers) {
  if (triggers.empty()) fail("grammar: a lazy grammar needs at least one trigger");
  std::vector<int32_t> trigger_tokens;
  std::vector<GrammarTrigger> text_triggers;
  for (GrammarTrigger& trigger : triggers) {
    const int32_t id = tokenizer.find_token(trigger.text);
    if (id >= 0 && tokenizer.token_type(id) == TokenType::kControl) {
      trigger_tokens.push_back(id);
    } else {
      text_triggers.push_back(std::move(trigger));
    }
  }
  auto processor = make_grammar_processor(std::move(grammar), tokenizer);
  return std::make_unique<LazyGrammarProcessor>(
      std::move(processor), GrammarVocabulary::for_tokenizer(tokenizer), std::move(text_triggers),
      std::move(trigger_tokens));
}

}  // namespace loom::grammar
