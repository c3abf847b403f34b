// Jinja lexing and parsing. Whitespace control follows the reference renderers used with
// chat templates (transformers, @huggingface/jinja): trim_blocks and lstrip_blocks on, and
// "-" in a tag strips all whitespace on that side.
#include <cctype>
#include <regex>
#include <stdexcept>

#include "chat/jinja_ast.h"
#include "core/error.h"

namespace loom::chat {
namespace {

std::string apply_whitespace_control(std::string s) {
  auto replace = [&](const char* pattern, const char* with,
                     std::regex::flag_type extra = std::regex::ECMAScript) {
    s = std::regex_replace(s, std::regex(pattern, extra), with);
  };
  replace(R"(([#%-]\})\n)", "$1");  // trim_blocks
  replace(R"(^[ \t]*(\{[#%-]))", "$1", std::regex::ECMAScript | std::regex::multiline);
  replace(R"(-%\}\s*)", "%}");
  replace(R"(\s*\{%-)", "{%");
  replace(R"(-\}\}\s*)", "}}");
  replace(R"(\s*\{\{-)", "{{");
  replace(R"(-#\}\s*)", "#}");
  replace(R"(\s*\{#-)", "{#");
  replace(R"(\{%\s*(end)?generation\s*%\})", "");
  return s;
}

struct Token {
  enum class Type { kName, kString, kInt, kFloat, kOp, kEnd };
  Type type;
  std::string text;
  int line;
};

// Splits a tag's inside into tokens.
std::vector<Token> lex_tag(const std::string& src, int line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < src.size()) {
    const char c = src[i];
    if (c == '\n') ++line;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < src.size() && (std::isalnum(static_cast<unsigned char>(src[j])) || src[j] == '_'))
        ++j;
      out.push_back({Token::Type::kName, src.substr(i, j - i), line});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < src.size() && (std::isdigit(static_cast<unsigned char>(src[j])) ||
                                (src[j] == '.' && !is_float && j + 1 < src.size() &&
                                 std::isdigit(static_cast<unsigned char>(src[j + 1]))))) {
        is_float = is_float || src[j] == '.';
        ++j;
      }
      out.push_back(
          {is_float ? Token::Type::kFloat : Token::Type::kInt, src.substr(i, j - i), line});
      i = j;
    } else if (c == '"' || c == '\'') {
      std::string text;
      size_t j = i + 1;
      while (j < src.size() && src[j] != c) {
        if (src[j] == '\\' && j + 1 < src.size()) {
          const char e = src[++j];
          switch (e) {
            case 'n':
              text += '\n';
              break;
            case 't':
              text += '\t';
              break;
            case 'r':
              text += '\r';
              break;
            case 'b':
              text += '\b';
              break;
            case 'f':
              text += '\f';
              break;
            default:
              text += e;
          }
        } else {
          if (src[j] == '\n') ++line;
          text += src[j];
        }
        ++j;
      }
      if (j >= src.size()) fail("chat template line {}: unterminated string literal", line);
      out.push_back({Token::Type::kString, text, line});
      i = j + 1;
    } else {
      static const char* kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                                   "/",  "%",  "<",  ">",  "~",  "|",  ".", ",", ":",
                                   "(",  ")",  "[",  "]",  "{",  "}",  "="};
      bool matched = false;
      for (const char* op : kOps) {
        const size_t n = std::char_traits<char>::length(op);
        if (src.compare(i, n, op) == 0) {
          out.push_back({Token::Type::kOp, op, line});
          i += n;
          matched = true;
          break;
        }
      }
      if (!matched) fail("chat template line {}: unexpected character '{}'", line, c);
    }
  }
  out.push_back({Token::Type::kEnd, "", line});
  return out;
}

// A number as written in the template; one out of range (a 20-digit integer, 1e999) is
// an error of the template, like any other it cannot parse.
Value number_literal(const Token& token) {
  try {
    if (token.type == Token::Type::kInt) return Value::integer(std::stoll(token.text));
    return Value::number(std::stod(token.text));
  } catch (const std::out_of_range&) {
    fail("chat template line {}: the number {:.40} is out of range", token.line, token.text);
  }
}

class ExprParser {
 public:
  explicit ExprParser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  bool at_end() const { return peek().type == Token::Type::kEnd; }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).type == Token::Type::kOp && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == Token::Type::kName && peek(ahead).text == name;
  }
  Token next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }
  void expect_op(const char* op) {
    if (!is_op(op))
      fail("chat template line {}: expected '{}', found '{}'", peek().line, op, peek().text);
    ++pos_;
  }
  std::string expect_name() {
    if (peek().type != Token::Type::kName) {
      fail("chat template line {}: expected a name, found '{}'", peek().line, peek().text);
    }
    return next().text;
  }
  void expect_end() {
    if (!at_end()) fail("chat template line {}: unexpected '{}'", peek().line, peek().text);
  }

  ExprPtr or_expression() { return or_expr(); }
  ExprPtr expression() {
    ExprPtr value = or_expr();
    if (is_name("if")) {
      next();
      auto e = make(Expr::Kind::kTernary);
      e->items.push_back(std::move(value));
      e->items.push_back(or_expr());
      if (is_name("else")) {
        next();
        e->items.push_back(expression());
      } else {
        e->items.push_back(nullptr);
      }
      return e;
    }
    return value;
  }

 private:
  ExprPtr make(Expr::Kind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = peek().line;
    return e;
  }
  ExprPtr binary(std::string op, ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Kind::kBinary);
    e->name = std::move(op);
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return e;
  }

  ExprPtr or_expr() {
    ExprPtr left = and_expr();
    while (is_name("or")) {
      next();
      left = binary("or", std::move(left), and_expr());
    }
    return left;
  }
  ExprPtr and_expr() {
    ExprPtr left = not_expr();
    while (is_name("and")) {
      next();
      left = binary("and", std::move(left), not_expr());
    }
    return left;
  }
  ExprPtr not_expr() {
    if (is_name("not")) {
      next();
      auto e = make(Expr::Kind::kUnary);
      e->name = "not";
      e->items.push_back(not_expr());
      return e;
    }
    return comparison();
  }
  ExprPtr comparison() {
    ExprPtr left = additive();
    for (;;) {
      if (is_name("in")) {
        next();
        left = binary("in", std::move(left), additive());
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        left = binary("not in", std::move(left), additive());
      } else if (peek().type == Token::Type::kOp &&
                 (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                  peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
        const std::string op = next().text;
        left = binary(op, std::move(left), additive());
      } else {
        return left;
      }
    }
  }
  ExprPtr additive() {
    ExprPtr left = multiplicative();
    while (is_op("+") || is_op("-") || is_op("~")) {
      const std::string op = next().text;
      left = binary(op, std::move(left), multiplicative());
    }
    return left;
  }
  ExprPtr multiplicative() {
    ExprPtr left = test();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = next().text;
      left = binary(op, std::move(left), test());
    }
    return left;
  }
  ExprPtr test() {
    ExprPtr value = filtered();
    while (is_name("is")) {
      next();
      auto e = make(Expr::Kind::kTest);
      if (is_name("not")) {
        next();
        e->negated = true;
      }
      // "is none", "is true", "is false" name tests that are also literals.
      e->name = peek().type == Token::Type::kName ? next().text : next().text;
      e->items.push_back(std::move(value));
      if (is_op("(")) {
        call_args(*e);
      } else if (!at_end() &&
                 (peek().type == Token::Type::kString || peek().type == Token::Type::kInt ||
                  peek().type == Token::Type::kFloat)) {
        e->items.push_back(primary());
      }
      value = std::move(e);
    }
    return value;
  }
  ExprPtr filtered() {
    ExprPtr value = unary();
    while (is_op("|")) {
      next();
      auto e = make(Expr::Kind::kFilter);
      e->name = expect_name();
      e->items.push_back(std::move(value));
      if (is_op("(")) call_args(*e);
      value = std::move(e);
    }
    return value;
  }
  ExprPtr unary() {
    if (is_op("-") || is_op("+")) {
      auto e = make(Expr::Kind::kUnary);
      e->name = next().text;
      e->items.push_back(unary());
      return e;
    }
    return postfix();
  }
  void call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().type == Token::Type::kName && is_op("=", 1)) {
        std::string name = next().text;
        next();
        e.kwargs.emplace_back(std::move(name), expression());
      } else {
        e.items.push_back(expression());
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }
  ExprPtr postfix() {
    ExprPtr value = primary();
    for (;;) {
      if (is_op(".")) {
        next();
        auto e = make(Expr::Kind::kAttr);
        e->name = peek().type == Token::Type::kInt ? next().text : expect_name();
        e->items.push_back(std::move(value));
        value = std::move(e);
      } else if (is_op("[")) {
        next();
        ExprPtr parts[3];
        int part = 0;
        bool slice = false;
        while (!is_op("]")) {
          if (is_op(":")) {
            next();
            slice = true;
            if (++part > 2) fail("chat template line {}: bad slice", peek().line);
            continue;
          }
          parts[part] = expression();
        }
        expect_op("]");
        auto e = make(slice ? Expr::Kind::kSlice : Expr::Kind::kIndex);
        e->items.push_back(std::move(value));
        if (!slice && !parts[0]) fail("chat template line {}: empty subscript", e->line);
        for (int k = 0; k < (slice ? 3 : 1); ++k) e->items.push_back(std::move(parts[k]));
        value = std::move(e);
      } else if (is_op("(")) {
        auto e = make(Expr::Kind::kCall);
        e->items.push_back(std::move(value));
        call_args(*e);
        value = std::move(e);
      } else {
        return value;
      }
    }
  }
  ExprPtr primary() {
    const Token token = next();
    auto literal = [&](Value v) {
      auto e = make(Expr::Kind::kLiteral);
      e->value = std::move(v);
      return e;
    };
    switch (token.type) {
      case Token::Type::kString: {
        std::string text = token.text;
        while (peek().type == Token::Type::kString) text += next().text;
        return literal(Value::string(text));
      }
      case Token::Type::kInt:
      case Token::Type::kFloat:
        return literal(number_literal(token));
      case Token::Type::kName: {
        const std::string& n = token.text;
        if (n == "true" || n == "True") return literal(Value::boolean(true));
        if (n == "false" || n == "False") return literal(Value::boolean(false));
        if (n == "none" || n == "None") return literal(Value::none());
        auto e = make(Expr::Kind::kName);
        e->name = n;
        return e;
      }
      case Token::Type::kOp:
        if (token.text == "(") {
          ExprPtr inner = expression();
          if (is_op(",")) {  // a tuple: evaluated as a list
            auto e = make(Expr::Kind::kList);
            e->items.push_back(std::move(inner));
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              e->items.push_back(expression());
            }
            inner = std::move(e);
          }
          expect_op(")");
          return inner;
        }
        if (token.text == "[") {
          auto e = make(Expr::Kind::kList);
          while (!is_op("]")) {
            e->items.push_back(expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("]");
          return e;
        }
        if (token.text == "{") {
          auto e = make(Expr::Kind::kDict);
          while (!is_op("}")) {
            e->items.push_back(expression());
            expect_op(":");
            e->items.push_back(expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("}");
          return e;
        }
        break;
      case Token::Type::kEnd:
        fail("chat template line {}: expression ends too early", token.line);
    }
    fail("chat template line {}: unexpected '{}' in an expression", token.line, token.text);
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
};

struct Tag {
  enum class Type { kText, kOutput, kStatement };
  Type type;
  std::string text;
  int line;
};

std::vector<Tag> split_tags(const std::string& s) {
  std::vector<Tag> tags;
  size_t i = 0;
  int line = 1;
  auto count_lines = [&](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) line += s[k] == '\n';
  };
  while (i < s.size()) {
    size_t open = s.find('{', i);
    while (open != std::string::npos && open + 1 < s.size() && s[open + 1] != '{' &&
           s[open + 1] != '%' && s[open + 1] != '#') {
      open = s.find('{', open + 1);
    }
    if (open == std::string::npos || open + 1 >= s.size()) {
      tags.push_back({Tag::Type::kText, s.substr(i), line});
      break;
    }
    if (open > i) tags.push_back({Tag::Type::kText, s.substr(i, open - i), line});
    count_lines(i, open);
    const char kind = s[open + 1];
    const char* closer = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    // The closer ends the tag only outside string literals ({{ "}}" }} is one tag).
    size_t close = std::string::npos;
    char quote = 0;
    for (size_t k = open + 2; kind != '#' && k + 1 < s.size(); ++k) {
      if (quote) {
        if (s[k] == '\\') {
          ++k;
        } else if (s[k] == quote) {
          quote = 0;
        }
      } else if (s[k] == '"' || s[k] == '\'') {
        quote = s[k];
      } else if (s.compare(k, 2, closer) == 0) {
        close = k;
        break;
      }
    }
    if (kind == '#') close = s.find(closer, open + 2);
    if (close == std::string::npos)
      fail("chat template line {}: tag opened here never closes", line);
    if (kind != '#') {
      tags.push_back({kind == '{' ? Tag::Type::kOutput : Tag::Type::kStatement,
                      s.substr(open + 2, close - open - 2), line});
    }
    count_lines(open, close);
    i = close + 2;
  }
  return tags;
}

class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Tag> tags) : tags_(std::move(tags)) {}

  Body parse_all() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  // Parses statements until one of `enders` (returned in `ender`, its parser left in
  // current_) or the end of the template.
  Body parse_body(const std::vector<std::string>& enders, std::string& ender) {
    Body body;
    while (pos_ < tags_.size()) {
      const Tag& tag = tags_[pos_++];
      auto stmt = std::make_unique<Stmt>();
      stmt->line = tag.line;
      if (tag.type == Tag::Type::kText) {
        stmt->kind = Stmt::Kind::kText;
        stmt->text = tag.text;
        body.push_back(std::move(stmt));
        continue;
      }
      current_ = std::make_unique<ExprParser>(lex_tag(tag.text, tag.line));
      ExprParser& p = *current_;
      if (tag.type == Tag::Type::kOutput) {
        stmt->kind = Stmt::Kind::kOutput;
        stmt->expr = p.expression();
        p.expect_end();
        body.push_back(std::move(stmt));
        continue;
      }
      const std::string keyword = p.expect_name();
      for (const std::string& e : enders) {
        if (keyword == e) {
          ender = keyword;
          return body;
        }
      }
      if (keyword == "if") {
        parse_if(*stmt);
      } else if (keyword == "for") {
        parse_for(*stmt);
      } else if (keyword == "set") {
        parse_set(*stmt);
      } else if (keyword == "macro") {
        parse_macro(*stmt);
      } else if (keyword == "break" || keyword == "continue") {
        stmt->kind = keyword == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
        p.expect_end();
      } else {
        fail("chat template line {}: unsupported statement '{{% {} %}}'", tag.line, keyword);
      }
      body.push_back(std::move(stmt));
    }
    if (!enders.empty()) fail("chat template: missing '{{% {} %}}' at the end", enders.back());
    return body;
  }

  void parse_if(Stmt& stmt) {
    stmt.kind = Stmt::Kind::kIf;
    stmt.conditions.push_back(current_->expression());
    current_->expect_end();
    for (;;) {
      std::string ender;
      stmt.branches.push_back(parse_body({"elif", "else", "endif"}, ender));
      if (ender == "endif") break;
      if (ender == "elif") {
        stmt.conditions.push_back(current_->expression());
        current_->expect_end();
      } else {
        current_->expect_end();
        stmt.branches.push_back(parse_body({"endif"}, ender));
        break;
      }
    }
    current_->expect_end();
  }

  void parse_for(Stmt& stmt) {
    stmt.kind = Stmt::Kind::kFor;
    ExprParser& p = *current_;
    stmt.targets.push_back(p.expect_name());
    while (p.is_op(",")) {
      p.next();
      stmt.targets.push_back(p.expect_name());
    }
    if (!p.is_name("in")) fail("chat template line {}: expected 'in' in a for loop", stmt.line);
    p.next();
    stmt.expr = p.or_expression();
    if (p.is_name("if")) {
      p.next();
      stmt.filter = p.expression();
    }
    if (p.is_name("recursive"))
      fail("chat template line {}: unsupported 'recursive' loop", stmt.line);
    p.expect_end();
    std::string ender;
    stmt.body = parse_body({"else", "endfor"}, ender);
    if (ender == "else") {
      current_->expect_end();
      stmt.else_body = parse_body({"endfor"}, ender);
    }
    current_->expect_end();
  }

  void parse_set(Stmt& stmt) {
    ExprParser& p = *current_;
    stmt.targets.push_back(p.expect_name());
    if (p.is_op(".")) {
      p.next();
      stmt.targets.push_back(p.expect_name());
    }
    if (p.is_op("=")) {
      p.next();
      stmt.kind = Stmt::Kind::kSet;
      stmt.expr = p.expression();
      p.expect_end();
      return;
    }
    p.expect_end();
    stmt.kind = Stmt::Kind::kSetBlock;
    std::string ender;
    stmt.body = parse_body({"endset"}, ender);
    current_->expect_end();
  }

  void parse_macro(Stmt& stmt) {
    stmt.kind = Stmt::Kind::kMacro;
    ExprParser& p = *current_;
    stmt.name = p.expect_name();
    p.expect_op("(");
    while (!p.is_op(")")) {
      std::string param = p.expect_name();
      ExprPtr fallback;
      if (p.is_op("=")) {
        p.next();
        fallback = p.expression();
      }
      stmt.params.emplace_back(std::move(param), std::move(fallback));
      if (!p.is_op(",")) break;
      p.next();
    }
    p.expect_op(")");
    p.expect_end();
    std::string ender;
    stmt.body = parse_body({"endmacro"}, ender);
    current_->expect_end();
  }

  std::vector<Tag> tags_;
  size_t pos_ = 0;
  std::unique_ptr<ExprParser> current_;
};

}  // namespace

Body parse_template(const std::string& source) {
  return TemplateParser(split_tags(apply_whitespace_control(source))).parse_all();
}

}  // namespace loom::chat
