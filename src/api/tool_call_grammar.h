// The engine's side of lazy grammars (Request::grammar_triggers).
#pragma once

#include <memory>

#include "grammar/compiled_grammar.h"
#include "loom/loom.h"
#include "sampling/logits_processor.h"

namespace loom {

class Tokenizer;

// The sampling constraint of one choice for `grammar`: lazy when `request` has triggers.
std::unique_ptr<LogitsProcessor> make_grammar_constraint(
    std::shared_ptr<const grammar::CompiledGrammar> grammar, const Tokenizer& tokenizer,
    const Request& request);

}  // namespace loom
