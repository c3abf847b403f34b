// Putting several generated grammars into one: every rule name of a GBNF text gets a
// prefix, so the rules of two JSON schemas (each with its own `root`, `string` ...) can
// live side by side. Literals, character classes, repetition counts and comments are
// left as they are.
#pragma once

#include <string>
#include <string_view>

namespace loom::grammar {

// `gbnf` with every rule name (definitions and references) written as prefix + name.
std::string prefix_gbnf_rules(std::string_view gbnf, std::string_view prefix);

}  // namespace loom::grammar
