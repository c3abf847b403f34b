#include "grammar/gbnf_parser.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <unordered_map>

#include "core/error.h"

namespace loom::grammar {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using Sequence = std::vector<Element>;
using Alternatives = std::vector<Sequence>;

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src) {}

  Grammar parse() {
    skip_space();
    if (at_end()) fail("grammar: the grammar is empty (it needs at least `root ::= ...`)");
    while (!at_end()) {
      const size_t start = pos_;
      if (!is_word_char(peek())) error_at(pos_, "expected a rule name, got {}", describe(pos_));
      const std::string name = parse_name();
      skip_space();
      if (src_.substr(pos_, 3) != "::=") {
        error_at(pos_, "expected '::=' after the rule name '{}'", name);
      }
      pos_ += 3;
      const uint32_t id = rule_id(name, start);
      if (defined_[id]) error_at(start, "rule '{}' is defined twice", name);
      defined_[id] = true;
      offsets_[id] = start;
      bodies_[id] = parse_alternates(name, /*nested=*/false);
      skip_space();
    }
    for (uint32_t id = 0; id < names_.size(); ++id) {
      if (!defined_[id]) error_at(offsets_[id], "undefined rule '{}'", names_[id]);
    }
    const auto root = ids_.find("root");
    if (root == ids_.end()) fail("grammar: there is no rule named 'root' (the start symbol)");
    Grammar g = flatten(root->second);
    check(g);
    return g;
  }

 private:
  template <typename... Args>
  [[noreturn]] void error_at(size_t offset, fmt::format_string<Args...> format,
                             Args&&... args) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < offset && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) {
        ++column;  // count characters, not UTF-8 continuation bytes
      }
    }
    fail("grammar: line {}, column {}: {}", line, column,
         fmt::format(format, std::forward<Args>(args)...));
  }

  std::string describe(size_t offset) const {
    if (offset >= src_.size()) return "the end of the grammar";
    const char c = src_[offset];
    if (c == '\n') return "a line break";
    return fmt::format("'{}'", c);
  }

  bool at_end() const { return pos_ >= src_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  void skip_space() {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && peek() != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (!at_end() && is_word_char(peek())) ++pos_;
    return std::string(src_.substr(start, pos_ - start));
  }

  // True when the input continues with `name ::=`: the current rule has ended.
  bool at_rule_start() const {
    size_t p = pos_;
    if (p >= src_.size() || !is_word_char(src_[p])) return false;
    while (p < src_.size() && is_word_char(src_[p])) ++p;
    while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t')) ++p;
    return src_.substr(p, 3) == "::=";
  }

  uint32_t rule_id(const std::string& name, size_t offset) {
    const auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(names_.size());
    ids_.emplace(name, id);
    names_.push_back(name);
    defined_.push_back(false);
    offsets_.push_back(offset);
    bodies_.emplace_back();
    return id;
  }

  uint32_t new_rule(const std::string& base, size_t offset, Alternatives body) {
    std::string name;
    do {
      name = fmt::format("{}_{}", base, ++generated_);
    } while (ids_.count(name) != 0);
    const uint32_t id = rule_id(name, offset);
    defined_[id] = true;
    bodies_[id] = std::move(body);
    return id;
  }

  Element chars(CharClass cls) {
    cls.finish();
    const auto key = std::make_pair(cls.negated, cls.ranges);
    const auto it = class_ids_.find(key);
    if (it != class_ids_.end()) return {ElementKind::kChars, it->second};
    const auto id = static_cast<uint32_t>(classes_.size());
    classes_.push_back(std::move(cls));
    class_ids_.emplace(key, id);
    return {ElementKind::kChars, id};
  }
  Element single(uint32_t cp) {
    CharClass cls;
    cls.ranges.push_back({cp, cp});
    return chars(std::move(cls));
  }

  // One code point at pos_ (UTF-8 or an escape); `quote_end` is the closing delimiter.
  uint32_t parse_char() {
    const size_t start = pos_;
    const auto byte = static_cast<unsigned char>(peek());
    if (byte == '\\') {
      ++pos_;
      if (at_end()) error_at(start, "an escape at the end of the grammar");
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        case '0':
          return 0;
        case '\\':
        case '"':
        case '\'':
        case '[':
        case ']':
        case '-':
        case '^':
        case '/':
        case '.':
        case '(':
        case ')':
        case '|':
        case '*':
        case '+':
        case '?':
        case '{':
        case '}':
          return static_cast<unsigned char>(e);
        case 'x':
          return parse_hex(start, 2);
        case 'u':
          return parse_hex(start, 4);
        case 'U':
          return parse_hex(start, 8);
        default:
          error_at(start, "unknown escape '\\{}'", e);
      }
    }
    if (byte < 0x80) {
      ++pos_;
      return byte;
    }
    int n = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : -1;
    if (n < 0 || byte > 0xF4) error_at(start, "invalid UTF-8 in the grammar text");
    uint32_t cp = byte & (0x3F >> n);
    ++pos_;
    for (int i = 0; i < n; ++i) {
      const auto cont = static_cast<unsigned char>(peek());
      if ((cont & 0xC0) != 0x80) error_at(start, "invalid UTF-8 in the grammar text");
      cp = (cp << 6) | (cont & 0x3F);
      ++pos_;
    }
    return cp;
  }

  uint32_t parse_hex(size_t start, int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const int d = hex_value(peek());
      if (d < 0) error_at(start, "an escape needs {} hex digits", digits);
      value = value * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    if (value > kMaxCodePoint) error_at(start, "code point {:#x} is beyond U+10FFFF", value);
    return value;
  }

  void parse_literal(Sequence& seq) {
    const size_t start = pos_;
    ++pos_;  // opening quote
    for (;;) {
      if (at_end() || peek() == '\n') error_at(start, "unterminated string literal");
      if (peek() == '"') break;
      seq.push_back(single(parse_char()));
    }
    ++pos_;
  }

  Element parse_class() {
    const size_t start = pos_;
    ++pos_;  // [
    CharClass cls;
    if (peek() == '^') {
      cls.negated = true;
      ++pos_;
    }
    for (;;) {
      if (at_end() || peek() == '\n') error_at(start, "unterminated character class");
      if (peek() == ']') break;
      const size_t item = pos_;
      const uint32_t first = parse_char();
      uint32_t last = first;
      if (peek() == '-' && peek(1) != ']' && peek(1) != '\0') {
        ++pos_;
        last = parse_char();
        if (last < first)
          error_at(item, "character range is reversed ({:#x} > {:#x})", first, last);
      }
      cls.ranges.push_back({first, last});
    }
    ++pos_;
    return chars(std::move(cls));
  }

  int parse_count(size_t start) {
    if (peek() < '0' || peek() > '9') error_at(pos_, "expected a number in {{m,n}}");
    long value = 0;
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + (peek() - '0');
      if (value > kMaxRepetition) {
        error_at(start, "repetition count above the limit of {}", kMaxRepetition);
      }
      ++pos_;
    }
    return static_cast<int>(value);
  }

  uint32_t star_rule(const std::string& base, size_t offset, Element atom) {
    const auto id = static_cast<uint32_t>(names_.size());  // the id new_rule will take
    return new_rule(base, offset, {{atom, Element{ElementKind::kRuleRef, id}}, {}});
  }

  // Rewrites the atom at the end of `seq` (from `atom_start`) for the operator at pos_.
  void parse_repetition(const std::string& base, Sequence& seq, size_t atom_start) {
    const size_t start = pos_;
    const char op = peek();
    ++pos_;
    int min = 0, max = -1;  // max -1: unbounded
    if (op == '+') min = 1;
    if (op == '?') max = 1;
    if (op == '{') {
      skip_space();
      min = parse_count(start);
      skip_space();
      max = min;
      if (peek() == ',') {
        ++pos_;
        skip_space();
        max = peek() == '}' ? -1 : parse_count(start);
        skip_space();
      }
      if (peek() != '}') error_at(pos_, "expected '}}' to close the repetition");
      ++pos_;
      if (max >= 0 && max < min) error_at(start, "repetition {{{},{}}} has max < min", min, max);
    }
    Sequence atom(seq.begin() + static_cast<long>(atom_start), seq.end());
    seq.resize(atom_start);
    if (atom.empty()) return;  // repeating the empty string matches the empty string
    Element element = atom[0];
    if (atom.size() > 1) element = {ElementKind::kRuleRef, new_rule(base, start, {atom})};
    for (int i = 0; i < min; ++i) seq.push_back(element);
    if (max < 0) {
      seq.push_back({ElementKind::kRuleRef, star_rule(base, start, element)});
    } else if (max > min) {
      // x{0,3} = (x (x (x)?)?)? : one way to match each count, so no ambiguity.
      std::optional<Element> inner;
      for (int i = 0; i < max - min; ++i) {
        Sequence body{element};
        if (inner) body.push_back(*inner);
        inner = Element{ElementKind::kRuleRef, new_rule(base, start, {body, {}})};
      }
      seq.push_back(*inner);
    }
  }

  Alternatives parse_alternates(const std::string& rule, bool nested) {
    Alternatives alts;
    alts.push_back(parse_sequence(rule, nested));
    while (peek() == '|') {
      ++pos_;
      alts.push_back(parse_sequence(rule, nested));
    }
    return alts;
  }

  Sequence parse_sequence(const std::string& rule, bool nested) {
    Sequence seq;
    size_t atom_start = kNone;
    for (;;) {
      skip_space();
      if (at_end()) break;
      const char c = peek();
      if (c == '|' || (c == ')' && nested) || at_rule_start()) break;
      if (c == '"') {
        atom_start = seq.size();
        parse_literal(seq);
      } else if (c == '[') {
        atom_start = seq.size();
        seq.push_back(parse_class());
      } else if (c == '.') {
        ++pos_;
        atom_start = seq.size();
        CharClass any;
        any.negated = true;
        seq.push_back(chars(std::move(any)));
      } else if (is_word_char(c)) {
        const size_t start = pos_;
        atom_start = seq.size();
        seq.push_back({ElementKind::kRuleRef, rule_id(parse_name(), start)});
      } else if (c == '(') {
        const size_t open = pos_;
        ++pos_;
        if (++depth_ > kMaxNesting) error_at(open, "groups nested deeper than {}", kMaxNesting);
        Alternatives body = parse_alternates(rule, /*nested=*/true);
        --depth_;
        skip_space();
        if (peek() != ')') error_at(open, "this '(' is never closed");
        ++pos_;
        atom_start = seq.size();
        seq.push_back({ElementKind::kRuleRef, new_rule(rule, open, std::move(body))});
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (atom_start == kNone) error_at(pos_, "'{}' has nothing before it to repeat", c);
        parse_repetition(rule, seq, atom_start);
        atom_start = kNone;
      } else if (c == ')') {
        error_at(pos_, "unmatched ')'");
      } else {
        error_at(pos_, "unexpected {}", describe(pos_));
      }
    }
    return seq;
  }

  Grammar flatten(uint32_t root) {
    Grammar g;
    g.root = root;
    g.classes = std::move(classes_);
    g.rules.resize(names_.size());
    for (uint32_t id = 0; id < names_.size(); ++id) {
      g.rules[id].name = names_[id];
      for (const Sequence& alt : bodies_[id]) {
        g.rules[id].alternatives.push_back(static_cast<uint32_t>(g.elements.size()));
        g.elements.insert(g.elements.end(), alt.begin(), alt.end());
        g.elements.push_back({ElementKind::kEnd, 0});
      }
    }
    return g;
  }

  // Rejects what the stack matcher cannot run: rules that never finish, and left
  // recursion that would grow the stack forever.
  void check(const Grammar& g) const {
    const size_t n = g.rules.size();
    std::vector<bool> nullable(n, false), productive(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        for (uint32_t alt : g.rules[r].alternatives) {
          bool all_nullable = true, all_productive = true;
          for (uint32_t p = alt; g.elements[p].kind != ElementKind::kEnd; ++p) {
            const Element& e = g.elements[p];
            const bool is_ref = e.kind == ElementKind::kRuleRef;
            all_nullable = all_nullable && is_ref && nullable[e.value];
            all_productive = all_productive && (!is_ref || productive[e.value]);
          }
          if (all_nullable && !nullable[r]) nullable[r] = changed = true;
          if (all_productive && !productive[r]) productive[r] = changed = true;
        }
      }
    }
    // Rules reachable from root, in discovery order.
    std::vector<bool> reachable(n, false);
    std::vector<uint32_t> order{g.root};
    reachable[g.root] = true;
    for (size_t i = 0; i < order.size(); ++i) {
      for (uint32_t alt : g.rules[order[i]].alternatives) {
        for (uint32_t p = alt; g.elements[p].kind != ElementKind::kEnd; ++p) {
          const Element& e = g.elements[p];
          if (e.kind == ElementKind::kRuleRef && !reachable[e.value]) {
            reachable[e.value] = true;
            order.push_back(e.value);
          }
        }
      }
    }
    // Left edges: A -> B when A can reach B before consuming input. An edge in tail
    // position keeps the stack depth; a cycle through a non-tail edge grows it forever.
    struct Edge {
      uint32_t to;
      bool tail;
    };
    std::vector<std::vector<Edge>> left(n);
    for (uint32_t r : order) {
      for (uint32_t alt : g.rules[r].alternatives) {
        for (uint32_t p = alt; g.elements[p].kind == ElementKind::kRuleRef; ++p) {
          const uint32_t to = g.elements[p].value;
          left[r].push_back({to, g.elements[p + 1].kind == ElementKind::kEnd});
          if (!nullable[to]) break;
        }
      }
    }
    for (uint32_t r : order) {
      for (const Edge& edge : left[r]) {
        if (edge.tail) continue;
        std::vector<bool> seen(n, false);
        std::vector<uint32_t> todo{edge.to};
        seen[edge.to] = true;
        for (size_t i = 0; i < todo.size(); ++i) {
          if (todo[i] == r) {
            error_at(offsets_[r],
                     "left recursion: rule '{}' can start with itself (through '{}'), which "
                     "never terminates; write it with repetition, e.g. x ::= y (\"+\" y)*",
                     g.rules[r].name, g.rules[edge.to].name);
          }
          for (const Edge& next : left[todo[i]]) {
            if (!seen[next.to]) {
              seen[next.to] = true;
              todo.push_back(next.to);
            }
          }
        }
      }
    }
    // Name the innermost rule that cannot finish (the last one found from root).
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const uint32_t r = *it;
      if (!productive[r]) {
        error_at(offsets_[r], "rule '{}' can never finish: every alternative needs itself again",
                 g.rules[r].name);
      }
    }
  }

  static constexpr int kMaxNesting = 200;  // bounds the parser's recursion

  std::string_view src_;
  size_t pos_ = 0;
  int depth_ = 0;
  int generated_ = 0;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::vector<bool> defined_;
  std::vector<size_t> offsets_;  // definition, or first use while undefined
  std::vector<Alternatives> bodies_;
  std::vector<CharClass> classes_;
  std::map<std::pair<bool, std::vector<std::pair<uint32_t, uint32_t>>>, uint32_t> class_ids_;
};

}  // namespace

Grammar parse_gbnf(std::string_view text) {
  return Parser(text).parse();
}

}  // namespace loom::grammar
