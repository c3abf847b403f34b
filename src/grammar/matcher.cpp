#include "grammar/matcher.h"

namespace loom::grammar {

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)),
      space_(std::make_shared<StateSpace>(grammar_->grammar())),
      state_(space_->initial()) {}

bool GrammarMatcher::accept(std::string_view bytes) {
  const StateId next = space_->step(state_, bytes);
  if (next == kDeadState) return false;
  state_ = next;
  return true;
}

bool GrammarMatcher::matches(std::string_view text) {
  reset();
  const bool ok = accept(text) && can_end();
  reset();
  return ok;
}

}  // namespace loom::grammar
