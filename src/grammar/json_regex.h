// A JSON Schema `pattern` as a GBNF expression for the *contents* of a JSON string
// (characters the regex matches, JSON-escaped where they must be).
//
// The subset people use: literals, ., [...] and [^...] with ranges, \d \w \s \D \W \S,
// escaped metacharacters, groups (...) and (?:...), alternation |, and the quantifiers
// * + ? {m} {m,} {m,n} (lazy forms match the same strings). ^ and $ are allowed only at
// the ends: the generated strings always match the whole pattern, a subset of what the
// (unanchored) pattern accepts. Lookaround, backreferences, word boundaries and other
// anchors are errors.
#pragma once

#include <string>
#include <string_view>

namespace loom::grammar {

// loom::Error "... pattern ...: <what> at offset N" for what the subset does not cover;
// `where` names the schema path for the message.
std::string regex_to_gbnf(std::string_view pattern, std::string_view where);

// GBNF literal ("...") for raw bytes, escaping quotes, backslashes and control bytes.
std::string gbnf_literal(std::string_view bytes);

}  // namespace loom::grammar
