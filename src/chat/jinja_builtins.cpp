#include "chat/jinja_builtins.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "chat/jinja.h"
#include "core/error.h"

namespace loom::chat {
namespace {

std::string python_repr(const Value& v);

std::string strip(const std::string& s, const std::string& chars, bool left, bool right) {
  size_t b = 0;
  size_t e = s.size();
  while (left && b < e && chars.find(s[b]) != std::string::npos) ++b;
  while (right && e > b && chars.find(s[e - 1]) != std::string::npos) --e;
  return s.substr(b, e - b);
}

const std::string kWhitespace = " \t\n\r\f\v";

std::string strip_arg(const CallArgs& args) {
  const Value* chars = args.get(0, "chars");
  return chars && chars->is_string() ? chars->s : kWhitespace;
}

std::string title_case(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    const bool alpha = std::isalpha(static_cast<unsigned char>(c));
    c = alpha ? (start ? static_cast<char>(std::toupper(c)) : static_cast<char>(std::tolower(c)))
              : c;
    start = !alpha;
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to,
                        int64_t count = -1) {
  if (from.empty()) return s;
  size_t pos = 0;
  while (count != 0 && (pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
    if (count > 0) --count;
  }
  return s;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string number_text(double f) {
  if (std::floor(f) == f && std::fabs(f) < 1e16) return fmt::format("{:.1f}", f);
  return fmt::format("{}", f);
}

std::string python_repr(const Value& v) {
  if (v.is_string()) {
    const bool has_single = v.s.find('\'') != std::string::npos;
    const bool has_double = v.s.find('"') != std::string::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (char c : v.s) {
      if (c == quote || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out + quote;
  }
  return to_text(v);
}

Value to_list(const Value& v, int line) {
  if (v.is_array()) return v;
  Array items;
  if (v.is_string()) {
    for (char c : v.s) items.push_back(Value::string(std::string(1, c)));
  } else if (v.is_object()) {
    for (const auto& [k, val] : *v.object) items.push_back(Value::string(k));
  } else if (!v.is_undefined() && !v.is_none()) {
    fail("chat template line {}: {} is not iterable", line, type_name(v));
  }
  return Value::list(std::move(items));
}

Value attribute_of(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    current = get_item(current, Value::string(path.substr(start, dot - start)));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

}  // namespace

std::string to_text(const Value& v) {
  switch (v.type) {
    case Value::Type::kUndefined:
      return "";
    case Value::Type::kNone:
      return "None";
    case Value::Type::kBool:
      return v.b ? "True" : "False";
    case Value::Type::kInt:
      return std::to_string(v.i);
    case Value::Type::kFloat:
      return number_text(v.f);
    case Value::Type::kString:
      return v.s;
    case Value::Type::kArray: {
      std::string out = "[";
      for (size_t k = 0; k < v.array->size(); ++k) {
        if (k) out += ", ";
        out += python_repr((*v.array)[k]);
      }
      return out + "]";
    }
    case Value::Type::kObject: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, val] : *v.object) {
        if (!first) out += ", ";
        first = false;
        out += python_repr(Value::string(key)) + ": " + python_repr(val);
      }
      return out + "}";
    }
    case Value::Type::kFunction:
      return "<function>";
  }
  return "";
}

const char* type_name(const Value& v) {
  switch (v.type) {
    case Value::Type::kUndefined:
      return "undefined";
    case Value::Type::kNone:
      return "none";
    case Value::Type::kBool:
      return "a boolean";
    case Value::Type::kInt:
      return "an integer";
    case Value::Type::kFloat:
      return "a float";
    case Value::Type::kString:
      return "a string";
    case Value::Type::kArray:
      return "a list";
    case Value::Type::kObject:
      return "a dict";
    case Value::Type::kFunction:
      return "a function";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.type) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return false;
    case Value::Type::kBool:
      return v.b;
    case Value::Type::kInt:
      return v.i != 0;
    case Value::Type::kFloat:
      return v.f != 0;
    case Value::Type::kString:
      return !v.s.empty();
    case Value::Type::kArray:
      return !v.array->empty();
    case Value::Type::kObject:
      return !v.object->empty();
    case Value::Type::kFunction:
      return true;
  }
  return false;
}

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.type == Value::Type::kInt ? static_cast<double>(a.i) : a.f;
    const double y = b.type == Value::Type::kInt ? static_cast<double>(b.i) : b.f;
    return x == y;
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return true;
    case Value::Type::kBool:
      return a.b == b.b;
    case Value::Type::kString:
      return a.s == b.s;
    case Value::Type::kArray:
      if (a.array->size() != b.array->size()) return false;
      for (size_t k = 0; k < a.array->size(); ++k) {
        if (!equal((*a.array)[k], (*b.array)[k])) return false;
      }
      return true;
    case Value::Type::kObject:
      return to_json(a) == to_json(b);
    default:
      return false;
  }
}

int compare(const Value& a, const Value& b, int line) {
  if (a.is_number() && b.is_number()) {
    const double x = a.type == Value::Type::kInt ? static_cast<double>(a.i) : a.f;
    const double y = b.type == Value::Type::kInt ? static_cast<double>(b.i) : b.f;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.s.compare(b.s);
  fail("chat template line {}: cannot order {} and {}", line, type_name(a), type_name(b));
}

bool contains(const Value& haystack, const Value& needle, int line) {
  if (haystack.is_string()) {
    if (!needle.is_string()) fail("chat template line {}: 'in' a string needs a string", line);
    return haystack.s.find(needle.s) != std::string::npos;
  }
  if (haystack.is_array()) {
    for (const Value& item : *haystack.array) {
      if (equal(item, needle)) return true;
    }
    return false;
  }
  if (haystack.is_object()) return needle.is_string() && haystack.find(needle.s) != nullptr;
  if (haystack.is_undefined() || haystack.is_none()) return false;
  fail("chat template line {}: 'in' {} is not supported", line, type_name(haystack));
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_object() && key.is_string()) {
    const Value* v = object.find(key.s);
    return v ? *v : Value();
  }
  if ((object.is_array() || object.is_string()) && key.type == Value::Type::kInt) {
    const int64_t n =
        static_cast<int64_t>(object.is_array() ? object.array->size() : object.s.size());
    const int64_t i = key.i < 0 ? key.i + n : key.i;
    if (i < 0 || i >= n) return Value();
    return object.is_array() ? (*object.array)[static_cast<size_t>(i)]
                             : Value::string(std::string(1, object.s[static_cast<size_t>(i)]));
  }
  if (object.is_object() && key.type == Value::Type::kInt) {
    const Value* v = object.find(std::to_string(key.i));
    return v ? *v : Value();
  }
  return Value();
}

Value slice(const Value& object, const Value& start, const Value& stop, const Value& step,
            int line) {
  if (!object.is_array() && !object.is_string()) {
    fail("chat template line {}: cannot slice {}", line, type_name(object));
  }
  const int64_t n =
      static_cast<int64_t>(object.is_array() ? object.array->size() : object.s.size());
  const int64_t st = step.type == Value::Type::kInt ? step.i : 1;
  if (st == 0) fail("chat template line {}: slice step 0", line);
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.type != Value::Type::kInt) return fallback;
    int64_t i = v.i < 0 ? v.i + n : v.i;
    return st > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t b = clamp(start, st > 0 ? 0 : n - 1);
  const int64_t e = clamp(stop, st > 0 ? n : -1);
  Array items;
  std::string text;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (object.is_array()) {
      items.push_back((*object.array)[static_cast<size_t>(i)]);
    } else {
      text += object.s[static_cast<size_t>(i)];
    }
  }
  return object.is_array() ? Value::list(std::move(items)) : Value::string(text);
}

std::string to_json(const Value& v, int indent, int depth) {
  std::string newline;
  std::string closing;
  if (indent >= 0) {
    newline.assign(static_cast<size_t>(indent * (depth + 1)) + 1, ' ');
    newline[0] = '\n';
    closing.assign(static_cast<size_t>(indent * depth) + 1, ' ');
    closing[0] = '\n';
  }
  const std::string separator = indent >= 0 ? "," : ", ";
  switch (v.type) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return "null";
    case Value::Type::kBool:
      return v.b ? "true" : "false";
    case Value::Type::kInt:
      return std::to_string(v.i);
    case Value::Type::kFloat:
      return number_text(v.f);
    case Value::Type::kString:
      return json_string(v.s);
    case Value::Type::kArray: {
      if (v.array->empty()) return "[]";
      std::string out = "[";
      for (size_t k = 0; k < v.array->size(); ++k) {
        out += (k ? separator : "") + newline + to_json((*v.array)[k], indent, depth + 1);
      }
      return out + closing + "]";
    }
    case Value::Type::kObject: {
      if (v.object->empty()) return "{}";
      std::string out = "{";
      bool first = true;
      for (const auto& [key, val] : *v.object) {
        out += (first ? "" : separator) + newline + json_string(key) + ": " +
               to_json(val, indent, depth + 1);
        first = false;
      }
      return out + closing + "}";
    }
    case Value::Type::kFunction:
      return "null";
  }
  return "null";
}

Value global_function(const std::string& name) {
  if (name == "raise_exception") {
    return Value::callable([](CallArgs& args) -> Value {
      const Value* message = args.get(0, "message");
      fail("the chat template raised an error: {}", message ? to_text(*message) : "");
    });
  }
  if (name == "namespace" || name == "dict") {
    return Value::callable([](CallArgs& args) {
      Value ns = Value::dict();
      for (auto& [k, v] : args.keyword) ns.set(k, v);
      return ns;
    });
  }
  if (name == "range") {
    return Value::callable([](CallArgs& args) {
      int64_t start = 0, stop = 0, step = 1;
      auto arg = [&](size_t k) { return args.positional.at(k).i; };
      if (args.positional.size() == 1) {
        stop = arg(0);
      } else if (args.positional.size() >= 2) {
        start = arg(0);
        stop = arg(1);
        if (args.positional.size() > 2) step = arg(2);
      }
      if (step == 0) fail("chat template: range() step 0");
      Array items;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        items.push_back(Value::integer(i));
      return Value::list(std::move(items));
    });
  }
  if (name == "strftime_now") {
    return Value::callable([](CallArgs& args) {
      const Value* format = args.get(0, "format");
      const std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buffer[256];
      const size_t n = std::strftime(buffer, sizeof buffer, format ? format->s.c_str() : "", &tm);
      return Value::string(std::string(buffer, n));
    });
  }
  return Value();
}

Value call_method(const Value& object, const std::string& name, CallArgs& args, int line) {
  auto arg_string = [&](size_t k, const char* n) {
    const Value* v = args.get(k, n);
    return v && v->is_string() ? v->s : std::string();
  };
  if (object.is_string()) {
    const std::string& s = object.s;
    if (name == "strip") return Value::string(strip(s, strip_arg(args), true, true));
    if (name == "lstrip") return Value::string(strip(s, strip_arg(args), true, false));
    if (name == "rstrip") return Value::string(strip(s, strip_arg(args), false, true));
    if (name == "upper" || name == "lower") {
      std::string out = s;
      for (char& c : out)
        c = static_cast<char>(name == "upper" ? std::toupper(c) : std::tolower(c));
      return Value::string(out);
    }
    if (name == "title") return Value::string(title_case(s));
    if (name == "capitalize") {
      std::string out = s;
      for (char& c : out) c = static_cast<char>(std::tolower(c));
      if (!out.empty()) out[0] = static_cast<char>(std::toupper(out[0]));
      return Value::string(out);
    }
    if (name == "startswith") return Value::boolean(s.rfind(arg_string(0, "prefix"), 0) == 0);
    if (name == "endswith") {
      const std::string suffix = arg_string(0, "suffix");
      return Value::boolean(s.size() >= suffix.size() &&
                            s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0);
    }
    if (name == "replace") {
      const Value* count = args.get(2, "count");
      return Value::string(replace_all(s, arg_string(0, "old"), arg_string(1, "new"),
                                       count && count->type == Value::Type::kInt ? count->i : -1));
    }
    if (name == "find") return Value::integer(static_cast<int64_t>(s.find(arg_string(0, "sub"))));
    if (name == "count") {
      const std::string sub = arg_string(0, "sub");
      int64_t n = 0;
      for (size_t p = s.find(sub); !sub.empty() && p != std::string::npos;
           p = s.find(sub, p + sub.size()))
        ++n;
      return Value::integer(n);
    }
    if (name == "split") {
      const Value* sep = args.get(0, "sep");
      const Value* max = args.get(1, "maxsplit");
      int64_t splits = max && max->type == Value::Type::kInt ? max->i : -1;
      Array parts;
      if (!sep || sep->is_none()) {
        size_t i = 0;
        while (i < s.size()) {
          while (i < s.size() && kWhitespace.find(s[i]) != std::string::npos) ++i;
          if (i >= s.size()) break;
          size_t j = i;
          while (j < s.size() && kWhitespace.find(s[j]) == std::string::npos) ++j;
          parts.push_back(Value::string(s.substr(i, j - i)));
          i = j;
        }
        return Value::list(std::move(parts));
      }
      size_t start = 0;
      for (size_t p;
           splits != 0 && !sep->s.empty() && (p = s.find(sep->s, start)) != std::string::npos;
           --splits) {
        parts.push_back(Value::string(s.substr(start, p - start)));
        start = p + sep->s.size();
      }
      parts.push_back(Value::string(s.substr(start)));
      return Value::list(std::move(parts));
    }
    if (name == "join") {
      const Value* items = args.get(0, "iterable");
      std::string out;
      if (items && items->is_array()) {
        for (size_t k = 0; k < items->array->size(); ++k)
          out += (k ? s : "") + to_text((*items->array)[k]);
      }
      return Value::string(out);
    }
  }
  if (object.is_object()) {
    if (name == "items") {
      Array items;
      for (const auto& [k, v] : *object.object) items.push_back(Value::list({Value::string(k), v}));
      return Value::list(std::move(items));
    }
    if (name == "keys" || name == "values") {
      Array items;
      for (const auto& [k, v] : *object.object)
        items.push_back(name == "keys" ? Value::string(k) : v);
      return Value::list(std::move(items));
    }
    if (name == "get") {
      const Value* key = args.get(0, "key");
      const Value* v = key && key->is_string() ? object.find(key->s) : nullptr;
      if (v) return *v;
      const Value* fallback = args.get(1, "default");
      return fallback ? *fallback : Value::none();
    }
  }
  if (object.is_array()) {
    if (name == "append") {
      object.array->push_back(args.positional.empty() ? Value() : args.positional[0]);
      return Value::none();
    }
    if (name == "pop") {
      if (object.array->empty()) fail("chat template line {}: pop from an empty list", line);
      Value last = object.array->back();
      object.array->pop_back();
      return last;
    }
  }
  fail("chat template line {}: unsupported method '{}' on {}", line, name, type_name(object));
}

Value apply_filter(const std::string& name, const Value& value, CallArgs& args, int line) {
  if (name == "length" || name == "count") {
    if (value.is_string()) return Value::integer(static_cast<int64_t>(value.s.size()));
    if (value.is_array()) return Value::integer(static_cast<int64_t>(value.array->size()));
    if (value.is_object()) return Value::integer(static_cast<int64_t>(value.object->size()));
    fail("chat template line {}: length of {}", line, type_name(value));
  }
  if (name == "trim" || name == "upper" || name == "lower" || name == "title" ||
      name == "capitalize") {
    CallArgs none;
    return call_method(Value::string(to_text(value)), name == "trim" ? "strip" : name, none, line);
  }
  if (name == "string") return Value::string(to_text(value));
  if (name == "safe" || name == "escape" || name == "e") return value;
  if (name == "tojson") {
    const Value* indent = args.get(0, "indent");
    return Value::string(to_json(
        value, indent && indent->type == Value::Type::kInt ? static_cast<int>(indent->i) : -1));
  }
  if (name == "default" || name == "d") {
    const Value* fallback = args.get(0, "default_value");
    const Value* boolean = args.get(1, "boolean");
    const bool use_fallback =
        value.is_undefined() || (boolean && truthy(*boolean) && !truthy(value));
    return use_fallback ? (fallback ? *fallback : Value::string("")) : value;
  }
  if (name == "first" || name == "last") {
    const Value list = to_list(value, line);
    if (list.array->empty()) return Value();
    return name == "first" ? list.array->front() : list.array->back();
  }
  if (name == "reverse") {
    if (value.is_string()) return Value::string(std::string(value.s.rbegin(), value.s.rend()));
    Array items = *to_list(value, line).array;
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "list") return Value::list(*to_list(value, line).array);
  if (name == "join") {
    const Value* sep = args.get(0, "d");
    const Value* attribute = args.get(1, "attribute");
    const Value list = to_list(value, line);
    std::string out;
    for (size_t k = 0; k < list.array->size(); ++k) {
      if (k && sep) out += to_text(*sep);
      const Value& item = (*list.array)[k];
      out += to_text(attribute ? attribute_of(item, to_text(*attribute)) : item);
    }
    return Value::string(out);
  }
  if (name == "replace") {
    const Value* count = args.get(2, "count");
    return Value::string(replace_all(to_text(value), to_text(args.positional.at(0)),
                                     to_text(args.positional.at(1)),
                                     count && count->type == Value::Type::kInt ? count->i : -1));
  }
  if (name == "items") {
    CallArgs none;
    return call_method(value.is_object() ? value : Value::dict(), "items", none, line);
  }
  if (name == "int") {
    if (value.type == Value::Type::kInt) return value;
    if (value.type == Value::Type::kFloat) return Value::integer(static_cast<int64_t>(value.f));
    try {
      return Value::integer(std::stoll(to_text(value)));
    } catch (const std::exception&) {
      return Value::integer(0);
    }
  }
  if (name == "float") {
    if (value.type == Value::Type::kInt) return Value::number(static_cast<double>(value.i));
    if (value.type == Value::Type::kFloat) return value;
    try {
      return Value::number(std::stod(to_text(value)));
    } catch (const std::exception&) {
      return Value::number(0);
    }
  }
  if (name == "abs" && value.is_number()) {
    return value.type == Value::Type::kInt ? Value::integer(std::llabs(value.i))
                                           : Value::number(std::fabs(value.f));
  }
  if (name == "unique") {
    Array items;
    for (const Value& item : *to_list(value, line).array) {
      if (std::none_of(items.begin(), items.end(),
                       [&](const Value& x) { return equal(x, item); })) {
        items.push_back(item);
      }
    }
    return Value::list(std::move(items));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    const bool attr = name == "selectattr" || name == "rejectattr";
    const bool keep = name == "selectattr" || name == "select";
    const size_t test_at = attr ? 1 : 0;
    const std::string attribute = attr ? to_text(args.positional.at(0)) : "";
    const std::string test =
        args.positional.size() > test_at ? to_text(args.positional[test_at]) : "";
    CallArgs test_args;
    for (size_t k = test_at + 1; k < args.positional.size(); ++k)
      test_args.positional.push_back(args.positional[k]);
    Array items;
    for (const Value& item : *to_list(value, line).array) {
      const Value subject = attr ? attribute_of(item, attribute) : item;
      const bool pass = test.empty() ? truthy(subject) : apply_test(test, subject, test_args, line);
      if (pass == keep) items.push_back(item);
    }
    return Value::list(std::move(items));
  }
  if (name == "map") {
    Array items;
    const Value* attribute = args.get(99, "attribute");
    for (const Value& item : *to_list(value, line).array) {
      if (attribute) {
        items.push_back(attribute_of(item, to_text(*attribute)));
      } else {
        CallArgs rest;
        rest.positional.assign(args.positional.begin() + (args.positional.empty() ? 0 : 1),
                               args.positional.end());
        items.push_back(apply_filter(to_text(args.positional.at(0)), item, rest, line));
      }
    }
    return Value::list(std::move(items));
  }
  if (name == "indent") {
    const Value* width = args.get(0, "width");
    const Value* first = args.get(1, "first");
    const std::string pad(
        static_cast<size_t>(width && width->type == Value::Type::kInt ? width->i : 4), ' ');
    std::string text = to_text(value);
    std::string out;
    for (size_t k = 0; k < text.size(); ++k) {
      out += text[k];
      if (text[k] == '\n' && k + 1 < text.size() && text[k + 1] != '\n') out += pad;
    }
    return Value::string((first && truthy(*first) ? pad : "") + out);
  }
  if (name == "wordcount") {
    CallArgs none;
    return Value::integer(static_cast<int64_t>(
        call_method(Value::string(to_text(value)), "split", none, line).array->size()));
  }
  fail("chat template line {}: unsupported filter '{}'", line, name);
}

bool apply_test(const std::string& name, const Value& value, CallArgs& args, int line) {
  if (name == "defined") return !value.is_undefined();
  if (name == "undefined") return value.is_undefined();
  if (name == "none") return value.is_none();
  if (name == "string") return value.is_string();
  if (name == "number") return value.is_number();
  if (name == "integer") return value.type == Value::Type::kInt;
  if (name == "float") return value.type == Value::Type::kFloat;
  if (name == "boolean") return value.type == Value::Type::kBool;
  if (name == "true") return value.type == Value::Type::kBool && value.b;
  if (name == "false") return value.type == Value::Type::kBool && !value.b;
  if (name == "mapping") return value.is_object();
  if (name == "sequence") return value.is_array() || value.is_string();
  if (name == "iterable") return value.is_array() || value.is_string() || value.is_object();
  if (name == "callable") return value.type == Value::Type::kFunction;
  if (name == "odd" || name == "even") {
    if (value.type != Value::Type::kInt)
      fail("chat template line {}: '{}' test on {}", line, name, type_name(value));
    return (value.i % 2 != 0) == (name == "odd");
  }
  if (name == "equalto" || name == "eq" || name == "sameas")
    return equal(value, args.positional.at(0));
  if (name == "ne") return !equal(value, args.positional.at(0));
  if (name == "in") return contains(args.positional.at(0), value, line);
  fail("chat template line {}: unsupported test '{}'", line, name);
}

}  // namespace loom::chat
