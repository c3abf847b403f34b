// A context-free grammar over Unicode code points in the flat form the matcher walks
// (as llama.cpp lays GBNF out): every alternative of every rule is a run of elements in
// one array, closed by kEnd. Repetitions and groups were already rewritten into
// generated rules by the parser, so an element is a character class or a rule reference.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace loom::grammar {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// A set of code points: sorted, merged, inclusive ranges, or their complement.
struct CharClass {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // (n_ranges) inclusive [first, last]
  bool negated = false;
  uint64_t ascii[2] = {0, 0};  // membership of code points 0..127, after negation

  // Sorts and merges ranges and fills the ASCII bitmap; call once after filling ranges.
  void finish();
  bool matches(uint32_t cp) const;
  // True when some code point in [lo, hi] is in the class.
  bool intersects(uint32_t lo, uint32_t hi) const;
};

enum class ElementKind : uint8_t {
  kEnd,      // end of an alternative
  kChars,    // one code point from classes[value]
  kRuleRef,  // rules[value]
};

struct Element {
  ElementKind kind;
  uint32_t value;
};

struct Rule {
  std::string name;
  std::vector<uint32_t> alternatives;  // (n_alternatives) start index into elements
};

struct Grammar {
  std::vector<Element> elements;  // all alternatives, each closed by kEnd
  std::vector<CharClass> classes;
  std::vector<Rule> rules;
  uint32_t root = 0;  // index into rules
};

}  // namespace loom::grammar
