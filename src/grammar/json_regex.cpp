#include "grammar/json_regex.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace loom::grammar {
namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

// The bytes a JSON string uses for code point `cp`.
std::string json_escaped(uint32_t cp) {
  switch (cp) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    default:
      break;
  }
  if (cp < 0x20) return fmt::format("\\u{:04x}", cp);
  std::string out;
  utf8::append(out, cp);
  return out;
}

bool needs_escape(uint32_t cp) {
  return cp < 0x20 || cp == '"' || cp == '\\';
}

// A code point inside a GBNF character class.
std::string class_char(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F || cp == ']' || cp == '[' || cp == '\\' || cp == '^' || cp == '-' ||
      cp == '"') {
    return cp < 0x100 ? fmt::format("\\x{:02X}", cp) : fmt::format("\\u{:04X}", cp);
  }
  std::string out;
  utf8::append(out, cp);
  return out;
}

std::string class_body(const Ranges& ranges) {
  std::string out;
  for (const auto& [lo, hi] : ranges) {
    out += class_char(lo);
    if (hi != lo) out += fmt::format("-{}", class_char(hi));
  }
  return out;
}

// JSON string content matching one code point of the set.
std::string set_to_gbnf(const Ranges& ranges, bool negated, std::string_view where) {
  if (negated) {
    // Any unescaped character outside the set; quote and backslash as escapes.
    std::string expr = "[^" + class_body(ranges) + "\\x00-\\x1F\\x7F\"\\\\]";
    bool has_quote = false, has_backslash = false;
    for (const auto& [lo, hi] : ranges) {
      has_quote = has_quote || (lo <= '"' && '"' <= hi);
      has_backslash = has_backslash || (lo <= '\\' && '\\' <= hi);
    }
    if (!has_quote) expr += " | " + gbnf_literal("\\\"");
    if (!has_backslash) expr += " | " + gbnf_literal("\\\\");
    return "(" + expr + ")";
  }
  Ranges plain;
  std::vector<std::string> parts;
  for (const auto& [lo, hi] : ranges) {
    uint32_t start = lo;
    for (uint32_t cp = lo; cp <= hi && cp < 0x80; ++cp) {
      if (needs_escape(cp) || cp == 0x7F) {
        if (cp > start) plain.push_back({start, cp - 1});
        if (needs_escape(cp)) parts.push_back(gbnf_literal(json_escaped(cp)));
        start = cp + 1;
      }
    }
    if (start <= hi) plain.push_back({start, hi});
  }
  if (!plain.empty()) parts.insert(parts.begin(), fmt::format("[{}]", class_body(plain)));
  if (parts.empty()) fail("json schema: at {}: the pattern has an empty character class", where);
  if (parts.size() == 1) return parts[0];
  std::string expr = "(";
  for (size_t i = 0; i < parts.size(); ++i) expr += (i ? " | " : "") + parts[i];
  return expr + ")";
}

class RegexConverter {
 public:
  RegexConverter(std::string_view pattern, std::string_view where)
      : pattern_(pattern), where_(where) {
    for (size_t i = 0; i < pattern.size();) {
      const auto b = static_cast<unsigned char>(pattern[i]);
      const int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
      uint32_t cp = n == 1 ? b : b & (0x3F >> (n - 1));
      for (int k = 1; k < n && i + k < pattern.size(); ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(pattern[i + k]) & 0x3F);
      }
      cps_.push_back(cp);
      offsets_.push_back(i);
      i += n;
    }
  }

  std::string convert() {
    std::string expr = parse_alternation();
    if (pos_ < cps_.size()) error("unmatched ')'");
    return expr;
  }

 private:
  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
    const size_t offset = pos_ < offsets_.size() ? offsets_[pos_] : pattern_.size();
    fail(
        "json schema: at {}: pattern \"{}\": {} at offset {} (supported: literals, ., "
        "classes, \\d \\w \\s, groups, |, * + ? {{m,n}}, ^ and $ at the ends)",
        where_, pattern_, fmt::format(format, std::forward<Args>(args)...), offset);
  }

  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek() const { return at_end() ? 0 : cps_[pos_]; }

  std::string parse_alternation() {
    std::vector<std::string> alts{parse_sequence()};
    while (!at_end() && peek() == '|') {
      ++pos_;
      alts.push_back(parse_sequence());
    }
    if (alts.size() == 1) return alts[0];
    std::string expr = "(";
    for (size_t i = 0; i < alts.size(); ++i) expr += (i ? " | " : "") + alts[i];
    return expr + ")";
  }

  std::string parse_sequence() {
    std::string expr;
    while (!at_end() && peek() != '|' && peek() != ')') {
      std::string atom = parse_atom();
      if (atom.empty()) continue;  // an anchor
      atom = parse_quantifier(atom);
      expr += (expr.empty() ? "" : " ") + atom;
    }
    return expr.empty() ? "\"\"" : expr;
  }

  std::string parse_atom() {
    const uint32_t c = peek();
    if (c == '^') {
      if (pos_ != 0) error("'^' inside the pattern");
      ++pos_;
      return "";
    }
    if (c == '$') {
      ++pos_;
      if (!at_end() && peek() != '|' && peek() != ')') error("'$' inside the pattern");
      return "";
    }
    if (c == '(') {
      if (++depth_ > 100) error("groups nested deeper than 100");
      ++pos_;
      if (peek() == '?') {
        if (pos_ + 1 < cps_.size() && cps_[pos_ + 1] == ':') {
          pos_ += 2;
        } else {
          error("lookaround or a named group");
        }
      }
      std::string inner = parse_alternation();
      if (peek() != ')') error("unclosed '('");
      ++pos_;
      --depth_;
      return "(" + inner + ")";
    }
    if (c == '[') return parse_class();
    if (c == '.') {
      ++pos_;
      return set_to_gbnf({{'\n', '\n'}}, /*negated=*/true, where_);
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') error("nothing to repeat");
    if (c == '\\') {
      ++pos_;
      Ranges ranges;
      bool negated = false;
      if (class_escape(ranges, negated)) return set_to_gbnf(ranges, negated, where_);
      return gbnf_literal(json_escaped(escaped_char()));
    }
    ++pos_;
    return gbnf_literal(json_escaped(c));
  }

  // \d \w \s and their negations; false (nothing consumed) for other escapes.
  bool class_escape(Ranges& ranges, bool& negated) {
    const uint32_t e = peek();
    const uint32_t lower = e | 0x20;
    if (lower != 'd' && lower != 'w' && lower != 's') return false;
    ++pos_;
    negated = e != lower;
    if (lower == 'd') ranges = {{'0', '9'}};
    if (lower == 'w') ranges = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    if (lower == 's') ranges = {{'\t', '\r'}, {' ', ' '}};
    return true;
  }

  // The character after a backslash (already consumed).
  uint32_t escaped_char() {
    if (at_end()) error("a trailing backslash");
    const uint32_t e = peek();
    ++pos_;
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return 0;
      case 'x':
        return hex(2);
      case 'u':
        return hex(4);
      case 'b':
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
        --pos_;
        error("an anchor '\\{}'", char(e));
      default:
        break;
    }
    if (e >= '1' && e <= '9') {
      --pos_;
      error("a backreference");
    }
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
      --pos_;
      error("the escape '\\{}'", char(e));
    }
    return e;  // an escaped metacharacter or punctuation
  }

  uint32_t hex(int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const uint32_t c = peek();
      int d = c >= '0' && c <= '9'                     ? int(c - '0')
              : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? int((c | 0x20) - 'a' + 10)
                                                       : -1;
      if (d < 0) error("a hex escape needs {} digits", digits);
      value = value * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return value;
  }

  std::string parse_class() {
    ++pos_;  // [
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    }
    Ranges ranges;
    bool first = true;
    for (;;) {
      if (at_end()) error("unclosed '['");
      if (peek() == ']' && !first) break;
      first = false;
      uint32_t lo;
      if (peek() == '\\') {
        ++pos_;
        Ranges sub;
        bool sub_negated = false;
        if (class_escape(sub, sub_negated)) {
          if (sub_negated) error("a negated class escape inside [...]");
          ranges.insert(ranges.end(), sub.begin(), sub.end());
          continue;
        }
        lo = escaped_char();
      } else {
        lo = peek();
        ++pos_;
      }
      uint32_t hi = lo;
      if (peek() == '-' && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']') {
        ++pos_;
        if (peek() == '\\') {
          ++pos_;
          hi = escaped_char();
        } else {
          hi = peek();
          ++pos_;
        }
        if (hi < lo) error("a reversed range");
      }
      ranges.push_back({lo, hi});
    }
    ++pos_;  // ]
    return set_to_gbnf(ranges, negated, where_);
  }

  int count() {
    if (peek() < '0' || peek() > '9') error("a malformed {{m,n}}");
    int value = 0;
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + static_cast<int>(peek() - '0');
      if (value > 1000) error("a repetition count above 1000");
      ++pos_;
    }
    return value;
  }

  std::string parse_quantifier(const std::string& atom) {
    if (at_end()) return atom;
    const uint32_t c = peek();
    std::string op;
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      op = std::string(1, static_cast<char>(c));
    } else if (c == '{') {
      ++pos_;
      const int min = count();
      op = fmt::format("{{{}", min);
      if (peek() == ',') {
        ++pos_;
        if (peek() == '}') {
          op += ",";
        } else {
          const int max = count();
          if (max < min) error("{{m,n}} with n < m");
          op += fmt::format(",{}", max);
        }
      }
      if (peek() != '}') error("a malformed {{m,n}}");
      ++pos_;
      op += "}";
    } else {
      return atom;
    }
    if (peek() == '?') ++pos_;  // lazy: the same set of strings
    if (peek() == '+') error("a possessive quantifier");
    if (peek() == '*' || peek() == '{') error("a repeated quantifier");
    return "(" + atom + ")" + op;
  }

  std::string_view pattern_;
  std::string_view where_;
  std::vector<uint32_t> cps_;
  std::vector<size_t> offsets_;  // (n_code_points) byte offset of each code point
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string gbnf_literal(std::string_view bytes) {
  std::string out = "\"";
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string regex_to_gbnf(std::string_view pattern, std::string_view where) {
  return RegexConverter(pattern, where).convert();
}

}  // namespace loom::grammar
