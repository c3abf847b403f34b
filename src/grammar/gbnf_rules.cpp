#include "grammar/gbnf_rules.h"

namespace loom::grammar {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// The index just past the quoted literal or class opened at `at` (`close` ends it; a
// backslash escapes the next character).
size_t skip_quoted(std::string_view text, size_t at, char close) {
  size_t i = at + 1;
  while (i < text.size() && text[i] != close) i += text[i] == '\\' ? 2 : 1;
  return i < text.size() ? i + 1 : text.size();
}

}  // namespace

std::string prefix_gbnf_rules(std::string_view gbnf, std::string_view prefix) {
  std::string out;
  out.reserve(gbnf.size() * 2);
  size_t i = 0;
  while (i < gbnf.size()) {
    const char c = gbnf[i];
    size_t end = i + 1;
    if (c == '"') {
      end = skip_quoted(gbnf, i, '"');
    } else if (c == '[') {
      end = skip_quoted(gbnf, i, ']');
    } else if (c == '{') {
      end = gbnf.find('}', i);
      end = end == std::string_view::npos ? gbnf.size() : end + 1;
    } else if (c == '#') {
      end = gbnf.find('\n', i);
      if (end == std::string_view::npos) end = gbnf.size();
    } else if (is_word_char(c)) {
      while (end < gbnf.size() && is_word_char(gbnf[end])) ++end;
      out += prefix;
    }
    out += gbnf.substr(i, end - i);
    i = end;
  }
  return out;
}

}  // namespace loom::grammar
