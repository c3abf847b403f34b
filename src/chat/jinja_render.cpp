// Evaluation of a parsed Jinja template (see jinja.h). Semantics follow Python's Jinja2
// as transformers uses it: `set` inside a loop does not leak out (use namespace()),
// `and`/`or` return an operand, missing attributes are undefined.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>

#include "chat/jinja.h"
#include "chat/jinja_ast.h"
#include "chat/jinja_builtins.h"
#include "core/error.h"

namespace loom::chat {
namespace {

struct Scope {
  std::map<std::string, Value> vars;
  Scope* parent = nullptr;

  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};

enum class Flow { kNormal, kBreak, kContinue };

class Renderer {
 public:
  std::string out;

  Flow exec(const Body& body, Scope& scope) {
    for (const auto& stmt : body) {
      const Flow flow = exec(*stmt, scope);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Value eval(const Expr& e, Scope& scope);

 private:
  Flow exec(const Stmt& s, Scope& scope) {
    switch (s.kind) {
      case Stmt::Kind::kText:
        out += s.text;
        break;
      case Stmt::Kind::kOutput:
        out += to_text(eval(*s.expr, scope));
        break;
      case Stmt::Kind::kIf:
        for (size_t i = 0; i < s.branches.size(); ++i) {
          if (i >= s.conditions.size() || truthy(eval(*s.conditions[i], scope))) {
            return exec(s.branches[i], scope);
          }
        }
        break;
      case Stmt::Kind::kFor:
        exec_for(s, scope);
        break;
      case Stmt::Kind::kSet:
        assign(s, eval(*s.expr, scope), scope);
        break;
      case Stmt::Kind::kSetBlock: {
        std::string saved;
        saved.swap(out);
        exec(s.body, scope);
        saved.swap(out);
        assign(s, Value::string(saved), scope);
        break;
      }
      case Stmt::Kind::kMacro:
        define_macro(s, scope);
        break;
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void assign(const Stmt& s, Value value, Scope& scope) {
    if (s.targets.size() == 1) {
      scope.vars[s.targets[0]] = std::move(value);
      return;
    }
    const Value* target = scope.lookup(s.targets[0]);
    if (!target || !target->is_object()) {
      fail("chat template line {}: cannot set attribute '{}' of '{}' (not a namespace)", s.line,
           s.targets[1], s.targets[0]);
    }
    Value copy = *target;  // shares the object
    copy.set(s.targets[1], std::move(value));
  }

  void exec_for(const Stmt& s, Scope& scope) {
    const Value iterable = eval(*s.expr, scope);
    std::vector<Value> items;
    if (iterable.is_array()) {
      items = *iterable.array;
    } else if (iterable.is_object()) {
      for (const auto& [k, v] : *iterable.object) items.push_back(Value::string(k));
    } else if (iterable.is_string()) {
      for (char c : iterable.s) items.push_back(Value::string(std::string(1, c)));
    } else if (!iterable.is_undefined() && !iterable.is_none()) {
      fail("chat template line {}: cannot loop over {}", s.line, type_name(iterable));
    }
    auto bind = [&](Scope& inner, const Value& item) {
      if (s.targets.size() == 1) {
        inner.vars[s.targets[0]] = item;
        return;
      }
      if (!item.is_array() || item.array->size() != s.targets.size()) {
        fail("chat template line {}: cannot unpack into {} loop variables", s.line,
             s.targets.size());
      }
      for (size_t k = 0; k < s.targets.size(); ++k) inner.vars[s.targets[k]] = (*item.array)[k];
    };
    if (s.filter) {
      std::vector<Value> kept;
      for (const Value& item : items) {
        Scope probe{{}, &scope};
        bind(probe, item);
        if (truthy(eval(*s.filter, probe))) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      Scope inner{{}, &scope};
      exec(s.else_body, inner);
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      Scope inner{{}, &scope};
      bind(inner, items[i]);
      Value loop = Value::dict({{"index", Value::integer(i + 1)},
                                {"index0", Value::integer(i)},
                                {"revindex", Value::integer(n - i)},
                                {"revindex0", Value::integer(n - i - 1)},
                                {"first", Value::boolean(i == 0)},
                                {"last", Value::boolean(i == n - 1)},
                                {"length", Value::integer(n)},
                                {"previtem", i > 0 ? items[i - 1] : Value()},
                                {"nextitem", i + 1 < n ? items[i + 1] : Value()}});
      inner.vars["loop"] = loop;
      if (exec(s.body, inner) == Flow::kBreak) break;
    }
  }

  void define_macro(const Stmt& s, Scope& scope) {
    const Stmt* macro = &s;
    Scope* defined_in = &scope;
    scope.vars[s.name] = Value::callable([this, macro, defined_in](CallArgs& args) {
      Scope inner{{}, defined_in};
      for (size_t k = 0; k < macro->params.size(); ++k) {
        const auto& [name, fallback] = macro->params[k];
        const Value* given = args.get(k, name.c_str());
        inner.vars[name] = given ? *given : fallback ? eval(*fallback, inner) : Value();
      }
      std::string saved;
      saved.swap(out);
      exec(macro->body, inner);
      saved.swap(out);
      return Value::string(saved);
    });
  }

  CallArgs eval_args(const Expr& e, size_t first, Scope& scope) {
    CallArgs args;
    for (size_t k = first; k < e.items.size(); ++k)
      args.positional.push_back(eval(*e.items[k], scope));
    for (const auto& [name, value] : e.kwargs) args.keyword.emplace_back(name, eval(*value, scope));
    return args;
  }

  Value binary(const Expr& e, Scope& scope);
};

Value Renderer::eval(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.value;
    case Expr::Kind::kName: {
      const Value* v = scope.lookup(e.name);
      if (v) return *v;
      return global_function(e.name);
    }
    case Expr::Kind::kList: {
      Array items;
      for (const auto& item : e.items) items.push_back(eval(*item, scope));
      return Value::list(std::move(items));
    }
    case Expr::Kind::kDict: {
      Value dict = Value::dict();
      for (size_t k = 0; k + 1 < e.items.size(); k += 2) {
        dict.set(to_text(eval(*e.items[k], scope)), eval(*e.items[k + 1], scope));
      }
      return dict;
    }
    case Expr::Kind::kAttr:
      return get_item(eval(*e.items[0], scope), Value::string(e.name));
    case Expr::Kind::kIndex:
      return get_item(eval(*e.items[0], scope), eval(*e.items[1], scope));
    case Expr::Kind::kSlice: {
      auto part = [&](int k) { return e.items[k] ? eval(*e.items[k], scope) : Value(); };
      return slice(eval(*e.items[0], scope), part(1), part(2), part(3), e.line);
    }
    case Expr::Kind::kCall: {
      const Expr& callee = *e.items[0];
      CallArgs args = eval_args(e, 1, scope);
      if (callee.kind == Expr::Kind::kAttr) {
        const Value object = eval(*callee.items[0], scope);
        const Value* member = object.find(callee.name);
        if (member && member->type == Value::Type::kFunction) return (*member->function)(args);
        return call_method(object, callee.name, args, e.line);
      }
      const Value fn = eval(callee, scope);
      if (fn.type != Value::Type::kFunction) {
        fail("chat template line {}: unsupported function '{}'", e.line,
             callee.kind == Expr::Kind::kName ? callee.name : std::string("(expression)"));
      }
      return (*fn.function)(args);
    }
    case Expr::Kind::kFilter: {
      CallArgs args = eval_args(e, 1, scope);
      return apply_filter(e.name, eval(*e.items[0], scope), args, e.line);
    }
    case Expr::Kind::kTest: {
      CallArgs args = eval_args(e, 1, scope);
      const bool result = apply_test(e.name, eval(*e.items[0], scope), args, e.line);
      return Value::boolean(result != e.negated);
    }
    case Expr::Kind::kUnary: {
      const Value v = eval(*e.items[0], scope);
      if (e.name == "not") return Value::boolean(!truthy(v));
      if (v.type == Value::Type::kInt) return Value::integer(e.name == "-" ? -v.i : v.i);
      if (v.type == Value::Type::kFloat) return Value::number(e.name == "-" ? -v.f : v.f);
      fail("chat template line {}: unary '{}' on {}", e.line, e.name, type_name(v));
    }
    case Expr::Kind::kBinary:
      return binary(e, scope);
    case Expr::Kind::kTernary:
      if (truthy(eval(*e.items[1], scope))) return eval(*e.items[0], scope);
      return e.items[2] ? eval(*e.items[2], scope) : Value();
  }
  return Value();
}

Value Renderer::binary(const Expr& e, Scope& scope) {
  const std::string& op = e.name;
  const Value a = eval(*e.items[0], scope);
  if (op == "and") return truthy(a) ? eval(*e.items[1], scope) : a;
  if (op == "or") return truthy(a) ? a : eval(*e.items[1], scope);
  const Value b = eval(*e.items[1], scope);
  if (op == "==") return Value::boolean(equal(a, b));
  if (op == "!=") return Value::boolean(!equal(a, b));
  if (op == "in") return Value::boolean(contains(b, a, e.line));
  if (op == "not in") return Value::boolean(!contains(b, a, e.line));
  if (op == "~") return Value::string(to_text(a) + to_text(b));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    const int c = compare(a, b, e.line);
    return Value::boolean(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::string(a.s + b.s);
    if (a.is_array() && b.is_array()) {
      Array items = *a.array;
      items.insert(items.end(), b.array->begin(), b.array->end());
      return Value::list(std::move(items));
    }
  }
  if (op == "*" && a.is_string() && b.type == Value::Type::kInt) {
    std::string text;
    for (int64_t k = 0; k < b.i; ++k) text += a.s;
    return Value::string(text);
  }
  if (!a.is_number() || !b.is_number()) {
    fail("chat template line {}: '{}' between {} and {}", e.line, op, type_name(a), type_name(b));
  }
  const bool ints = a.type == Value::Type::kInt && b.type == Value::Type::kInt;
  const double x = a.type == Value::Type::kInt ? static_cast<double>(a.i) : a.f;
  const double y = b.type == Value::Type::kInt ? static_cast<double>(b.i) : b.f;
  if ((op == "/" || op == "//" || op == "%") && y == 0)
    fail("chat template line {}: division by zero", e.line);
  if (op == "+") return ints ? Value::integer(a.i + b.i) : Value::number(x + y);
  if (op == "-") return ints ? Value::integer(a.i - b.i) : Value::number(x - y);
  if (op == "*") return ints ? Value::integer(a.i * b.i) : Value::number(x * y);
  if (op == "/") return Value::number(x / y);
  if (op == "//") {
    return ints ? Value::integer(static_cast<int64_t>(std::floor(x / y)))
                : Value::number(std::floor(x / y));
  }
  if (op == "%") {
    if (ints) return Value::integer(((a.i % b.i) + b.i) % b.i);
    return Value::number(x - y * std::floor(x / y));
  }
  fail("chat template line {}: unsupported operator '{}'", e.line, op);
}

}  // namespace

std::string render_jinja(const std::string& source, const Value& context) {
  const Body body = parse_template(source);
  Scope globals;
  if (context.is_object()) {
    for (const auto& [k, v] : *context.object) globals.vars[k] = v;
  }
  Renderer renderer;
  renderer.exec(body, globals);
  return renderer.out;
}

}  // namespace loom::chat
