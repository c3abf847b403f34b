// GBNF, the grammar notation llama.cpp users write:
//
//   root  ::= item ("," ws item)*      # comments run to the end of the line
//   item  ::= [a-z]+ | "\"" [^"]* "\"" | digit{1,3}
//
// Rules, alternatives (|), sequences, literals with escapes (\n \t \\ \" \xHH \uHHHH
// \UHHHHHHHH), character classes and negated classes ([a-z], [^"\\]), `.` (any
// character), groups, and the repetitions * + ? {m} {m,} {m,n}. A rule may continue over
// several lines; the next rule starts at `name ::=`. The start symbol is `root`.
#pragma once

#include <string_view>

#include "grammar/grammar.h"

namespace loom::grammar {

// Largest m or n accepted in {m,n}: each repetition becomes its own rule.
inline constexpr int kMaxRepetition = 10000;

// loom::Error "grammar: line L, column C: ..." for a syntax error, an undefined rule
// (at its first use), a rule defined twice, a missing root, an empty grammar, left
// recursion that cannot terminate, and rules that can never finish.
Grammar parse_gbnf(std::string_view text);

}  // namespace loom::grammar
