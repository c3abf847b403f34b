// The syntax tree of a parsed Jinja template: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace loom::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // value
    kName,     // name
    kList,     // items
    kDict,     // items (key, value pairs flattened: k0 v0 k1 v1 ...)
    kAttr,     // items[0].name
    kIndex,    // items[0][items[1]]
    kSlice,    // items[0][items[1]:items[2]:items[3]] (null = omitted)
    kCall,     // items[0](items[1..], kwargs)
    kFilter,   // items[0] | name(items[1..], kwargs)
    kTest,     // items[0] is [not] name(items[1..])
    kUnary,    // op items[0]   ("not", "-", "+")
    kBinary,   // items[0] op items[1]
    kTernary,  // items[0] if items[1] else items[2] (items[2] may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // name / attribute / filter / test / operator
  bool negated = false;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kBreak, kContinue };
  Kind kind;
  int line = 0;
  std::string text;                  // kText
  ExprPtr expr;                      // output / set value / for iterable / if (unused)
  std::vector<ExprPtr> conditions;   // if: one per branch; else branch has none
  std::vector<Body> branches;        // if: bodies (conditions.size() or +1 for else)
  std::vector<std::string> targets;  // for: loop variables; set: name (and attribute)
  ExprPtr filter;                    // for ... if filter
  Body body;                         // for / macro / set block
  Body else_body;                    // for ... else
  std::string name;                  // macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters, defaults
};

// Parses a template (after whitespace control) or throws loom::Error naming the line and
// the construct that is not understood.
Body parse_template(const std::string& source);

}  // namespace loom::chat
