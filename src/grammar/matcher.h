// A byte-level matcher for one grammar, for checking text against it (tests, tools):
// accept() feeds bytes, can_end() says whether what was fed is a complete sentence.
// Character classes match code points, read from UTF-8; invalid UTF-8 is rejected.
// A copy continues independently but shares the memoized states: use a matcher and its
// copies from one thread.
#pragma once

#include <memory>
#include <string_view>

#include "grammar/compiled_grammar.h"
#include "grammar/state_space.h"

namespace loom::grammar {

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);

  // Feeds `bytes`; false when they cannot continue a sentence (the state is then
  // left as it was before the call).
  bool accept(std::string_view bytes);
  bool can_end() const { return space_->can_end(state_); }
  void reset() { state_ = space_->initial(); }
  // True when `text` as a whole is a sentence of the grammar.
  bool matches(std::string_view text);

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  std::shared_ptr<StateSpace> space_;
  StateId state_;
};

}  // namespace loom::grammar
