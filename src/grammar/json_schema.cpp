#include "grammar/json_schema.h"

#include <fmt/format.h>

#include <climits>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "core/error.h"
#include "grammar/json_integer_range.h"
#include "grammar/json_regex.h"
#include "grammar/json_schema_converter.h"

namespace loom::grammar {
namespace detail {
namespace {

// Shared rules for JSON's primitives. Numbers have bounded digit counts so an output
// always ends; whitespace is at most one newline and 20 spaces or tabs.
constexpr const char* kPrimitiveRules[][2] = {
    {"ws", R"(| " " | "\n" [ \t]{0,20})"},
    {"char", R"([^"\\\x00-\x1F\x7F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))"},
    {"string", R"("\"" char* "\"")"},
    {"integer", R"("-"? ("0" | [1-9] [0-9]{0,15}))"},
    {"number", R"(integer ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?)"},
    {"boolean", R"("true" | "false")"},
    {"null", R"("null")"},
    {"value", R"(object | array | string | number | boolean | null)"},
    {"object", R"("{" ws (string ws ":" ws value ws ("," ws string ws ":" ws value ws)*)? "}")"},
    {"array", R"("[" ws (value ws ("," ws value ws)*)? "]")"},
    {"date",
     R"(year "-" (("01" | "03" | "05" | "07" | "08" | "10" | "12") "-" day31 | ("04" | "06" | "09" | "11") "-" day30 | "02" "-" day28))"},
    {"year", R"([1-9] [0-9]{3} | "0" ([1-9] [0-9]{2} | "0" ([1-9] [0-9] | "0" [1-9])))"},
    {"day28", R"("0" [1-9] | "1" [0-9] | "2" [0-8])"},
    {"day30", R"(day28 | "29" | "30")"},
    {"day31", R"(day30 | "31")"},
    {"time",
     R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))"},
    {"uuid", R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})"},
    {"string-rest", R"(char* "\"")"},
};

// Keywords that only describe: accepted anywhere, enforce nothing.
const std::set<std::string> kAnnotations = {
    "$schema", "$id",        "$comment", "$anchor",   "title", "description", "examples",
    "default", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"};

std::optional<double> number_keyword(const Json& schema, const std::string& path,
                                     const char* keyword, std::set<std::string>& used) {
  if (!schema.contains(keyword)) return std::nullopt;
  used.insert(keyword);
  const Json& v = schema[keyword];
  if (!v.is_number()) {
    fail("json schema: at {}: '{}' must be a number", json_path_child(path, keyword), keyword);
  }
  return v.get<double>();
}

// OpenAPI's `format` on numbers: one of `allowed`, or an error; "" when absent.
std::string numeric_format(const Json& schema, const std::string& path, std::set<std::string>& used,
                           std::initializer_list<const char*> allowed) {
  if (!schema.contains("format")) return "";
  used.insert("format");
  const Json& f = schema["format"];
  const std::string fpath = path + "/format";
  if (f.is_string()) {
    for (const char* name : allowed) {
      if (f.get<std::string>() == name) return name;
    }
  }
  fail("json schema: at {}: format {} is not supported for this type", fpath, f.dump());
}

}  // namespace

std::string json_path_child(const std::string& path, const std::string& key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return path + "/" + escaped;
}

std::string rule_name_hint(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += word ? c : '-';
  }
  if (out.empty() || out.size() > 40) out = out.substr(0, 40) + "x";
  return out;
}

SchemaConverter::SchemaConverter(const Json& root, const JsonSchemaOptions& options)
    : root_(root), options_(options) {
  for (const auto& rule : kPrimitiveRules) primitive_bodies_[rule[0]] = rule[1];
  names_.insert("root");
}

std::string SchemaConverter::convert_root() {
  const std::string root_expr = visit(root_, "#", "root");
  std::string out = "root ::= " + root_expr + "\n";
  for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
  return out;
}

std::string SchemaConverter::primitive(const std::string& name) {
  if (used_primitives_.insert(name).second) {
    const std::string& body = primitive_bodies_.at(name);
    add_rule_named(name, body);
    // Pull in the primitives this body mentions as whole words.
    for (const auto& [other, other_body] : primitive_bodies_) {
      for (size_t at = body.find(other); at != std::string::npos; at = body.find(other, at + 1)) {
        const size_t end = at + other.size();
        const bool start_ok = at == 0 || body[at - 1] == ' ' || body[at - 1] == '(';
        const bool end_ok = end == body.size() || body[end] == ' ' || body[end] == ')' ||
                            body[end] == '*' || body[end] == '?';
        if (start_ok && end_ok && other != name) {
          primitive(other);
          break;
        }
      }
    }
  }
  return name;
}

void SchemaConverter::add_rule_named(const std::string& name, const std::string& body) {
  rules_.push_back({name, body});
  names_.insert(name);
}

std::string SchemaConverter::add_rule(const std::string& hint, const std::string& body) {
  const auto it = rule_by_body_.find(body);
  if (it != rule_by_body_.end()) return it->second;
  std::string name = rule_name_hint(hint);
  for (int i = 2; names_.count(name) != 0 || primitive_bodies_.count(name) != 0; ++i) {
    name = rule_name_hint(hint) + "-" + std::to_string(i);
  }
  add_rule_named(name, body);
  rule_by_body_.emplace(body, name);
  return name;
}

std::string SchemaConverter::visit(const Json& schema, const std::string& path,
                                   const std::string& hint) {
  // Bounds the recursion; real schemas nest a handful of levels.
  if (++depth_ > kMaxDepth) error(path, "schemas nested deeper than {} levels", kMaxDepth);
  std::string expr = visit_schema(schema, path, hint);
  --depth_;
  return expr;
}

std::string SchemaConverter::visit_schema(const Json& schema, const std::string& path,
                                          const std::string& hint) {
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) error(path, "the schema `false` matches no value");
    return primitive("value");
  }
  if (!schema.is_object()) error(path, "a schema must be an object or a boolean");
  std::set<std::string> used;
  for (const auto& [key, value] : schema.items()) {
    if (kAnnotations.count(key) != 0) used.insert(key);
  }
  std::vector<std::string> alternatives;
  std::string expr;
  const auto sole = [&](const char* keyword) {
    used.insert(keyword);
    for (const auto& [key, value] : schema.items()) {
      if (used.count(key) == 0 && key != "nullable") {
        error(json_path_child(path, key), "keyword '{}' next to '{}' is not supported", key,
              keyword);
      }
    }
  };
  if (schema.contains("$ref")) {
    sole("$ref");
    expr = visit_ref(schema, path);
  } else if (schema.contains("const")) {
    used.insert("type");  // the value decides; "type" next to it adds nothing
    sole("const");
    expr = gbnf_literal(schema["const"].dump());
  } else if (schema.contains("enum")) {
    used.insert("type");  // an enum's values decide; a type next to it adds nothing
    sole("enum");
    const Json& values = schema["enum"];
    if (!values.is_array() || values.empty()) {
      error(json_path_child(path, "enum"), "'enum' must be a non-empty array");
    }
    std::string body;
    for (const Json& v : values) body += (body.empty() ? "" : " | ") + gbnf_literal(v.dump());
    expr = add_rule(hint, body);
  } else if (schema.contains("anyOf") || schema.contains("oneOf")) {
    const char* keyword = schema.contains("anyOf") ? "anyOf" : "oneOf";
    sole(keyword);
    const Json& subs = schema[keyword];
    const std::string sub_path = json_path_child(path, keyword);
    if (!subs.is_array() || subs.empty())
      error(sub_path, "'{}' must be a non-empty array", keyword);
    std::string body;
    for (size_t i = 0; i < subs.size(); ++i) {
      body += (i ? " | " : "") +
              visit(subs[i], sub_path + "/" + std::to_string(i), hint + "-" + std::to_string(i));
    }
    expr = add_rule(hint, body);
  } else if (schema.contains("allOf")) {
    sole("allOf");
    const Json& subs = schema["allOf"];
    if (!subs.is_array() || subs.size() != 1) {
      error(json_path_child(path, "allOf"), "keyword 'allOf' is supported only with one schema");
    }
    expr = visit(subs[0], json_path_child(path, "allOf") + "/0", hint);
  } else {
    std::vector<std::string> types;
    if (schema.contains("type")) {
      used.insert("type");
      const Json& type = schema["type"];
      if (type.is_string()) {
        types.push_back(type.get<std::string>());
      } else if (type.is_array() && !type.empty()) {
        for (const Json& t : type) {
          if (!t.is_string())
            error(json_path_child(path, "type"), "'type' entries must be strings");
          types.push_back(t.get<std::string>());
        }
      } else {
        error(json_path_child(path, "type"), "'type' must be a string or a non-empty array");
      }
    } else if (schema.contains("properties") || schema.contains("additionalProperties") ||
               schema.contains("required")) {
      types.push_back("object");
    } else if (schema.contains("items") || schema.contains("prefixItems")) {
      types.push_back("array");
    } else if (schema.contains("pattern") || schema.contains("format") ||
               schema.contains("minLength") || schema.contains("maxLength")) {
      types.push_back("string");
    }
    if (types.empty()) {
      expr = primitive("value");
    } else {
      std::string body;
      for (const std::string& type : types) {
        body += (body.empty() ? "" : " | ") + visit_type(type, schema, path, hint, used);
      }
      expr = types.size() == 1 ? body : add_rule(hint, body);
    }
    for (const auto& [key, value] : schema.items()) {
      if (used.count(key) == 0 && key != "nullable") {
        error(json_path_child(path, key), "keyword '{}' is not supported here", key);
      }
    }
  }
  if (schema.contains("nullable")) {
    const Json& nullable = schema["nullable"];
    if (!nullable.is_boolean()) error(json_path_child(path, "nullable"), "must be a boolean");
    if (nullable.get<bool>()) expr = add_rule(hint + "-or-null", expr + " | " + primitive("null"));
  }
  return expr;
}

std::string SchemaConverter::visit_ref(const Json& schema, const std::string& path) {
  const Json& ref_value = schema["$ref"];
  const std::string ref_path = json_path_child(path, "$ref");
  if (!ref_value.is_string()) error(ref_path, "'$ref' must be a string");
  const std::string ref = ref_value.get<std::string>();
  const auto known = ref_rules_.find(ref);
  if (known != ref_rules_.end()) return known->second;
  if (ref.empty() || ref[0] != '#') {
    error(ref_path, "'$ref' \"{}\" is not supported: only references inside the schema (#/...)",
          ref);
  }
  const Json* target = &root_;
  if (ref.size() > 1) {
    try {
      target = &root_.at(Json::json_pointer(ref.substr(1)));
    } catch (const std::exception&) {
      error(ref_path, "'$ref' \"{}\" does not point into the schema", ref);
    }
  }
  std::string hint = ref == "#" ? "root-ref" : ref.substr(ref.rfind('/') + 1);
  std::string name = rule_name_hint(hint);
  for (int i = 2; names_.count(name) != 0 || primitive_bodies_.count(name) != 0; ++i) {
    name = rule_name_hint(hint) + "-" + std::to_string(i);
  }
  // Reserve the name first so a recursive reference finds it.
  ref_rules_.emplace(ref, name);
  names_.insert(name);
  const size_t slot = rules_.size();
  rules_.push_back({name, ""});
  const std::string body = visit(*target, ref, hint);
  rules_[slot].second = body;
  return name;
}

std::string SchemaConverter::visit_type(const std::string& type, const Json& schema,
                                        const std::string& path, const std::string& hint,
                                        std::set<std::string>& used) {
  if (type == "null") return primitive("null");
  if (type == "boolean") return primitive("boolean");
  if (type == "integer") return visit_integer(schema, path, used);
  if (type == "number") return visit_number(schema, path, used);
  if (type == "string") return visit_string(schema, path, hint, used);
  if (type == "array") return visit_array(schema, path, hint, used);
  if (type == "object") return visit_object(schema, path, hint, used);
  error(json_path_child(path, "type"), "unknown type \"{}\"", type);
}

std::string SchemaConverter::visit_integer(const Json& schema, const std::string& path,
                                           std::set<std::string>& used) {
  std::optional<int64_t> lo, hi;
  const auto bound = [&](double value, bool up) {
    if (std::fabs(value) > 1e15) error(path, "integer bounds beyond 1e15 are not supported");
    return static_cast<int64_t>(up ? std::ceil(value) : std::floor(value));
  };
  if (auto v = number_keyword(schema, path, "minimum", used)) lo = bound(*v, true);
  if (auto v = number_keyword(schema, path, "maximum", used)) hi = bound(*v, false);
  if (schema.contains("exclusiveMinimum")) {
    used.insert("exclusiveMinimum");
    const Json& v = schema["exclusiveMinimum"];
    if (v.is_boolean()) {  // draft 4: modifies minimum
      if (v.get<bool>() && lo) lo = *lo + 1;
    } else if (v.is_number()) {
      const int64_t x = bound(std::floor(v.get<double>()) + 1, true);
      lo = lo ? std::max(*lo, x) : x;
    } else {
      error(json_path_child(path, "exclusiveMinimum"), "must be a number");
    }
  }
  if (schema.contains("exclusiveMaximum")) {
    used.insert("exclusiveMaximum");
    const Json& v = schema["exclusiveMaximum"];
    if (v.is_boolean()) {
      if (v.get<bool>() && hi) hi = *hi - 1;
    } else if (v.is_number()) {
      const int64_t x = bound(std::ceil(v.get<double>()) - 1, false);
      hi = hi ? std::min(*hi, x) : x;
    } else {
      error(json_path_child(path, "exclusiveMaximum"), "must be a number");
    }
  }
  // OpenAPI's integer formats: int32 bounds the value, int64 is what the grammar's 16
  // digits already allow.
  if (numeric_format(schema, path, used, {"int32", "int64"}) == "int32") {
    lo = std::max<int64_t>(lo.value_or(INT32_MIN), INT32_MIN);
    hi = std::min<int64_t>(hi.value_or(INT32_MAX), INT32_MAX);
  }
  if (!lo && !hi) return primitive("integer");
  if (lo && hi && *lo > *hi) error(path, "no integer lies between the minimum and the maximum");
  return add_rule("integer-range", integer_range_gbnf(lo, hi));
}

std::string SchemaConverter::visit_number(const Json& schema, const std::string& path,
                                          std::set<std::string>& used) {
  numeric_format(schema, path, used, {"float", "double"});  // no constraint beyond JSON's
  for (const char* keyword : {"maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}) {
    if (schema.contains(keyword)) {
      error(json_path_child(path, keyword),
            "keyword '{}' is not supported for numbers (only for integers)", keyword);
    }
  }
  if (auto v = number_keyword(schema, path, "minimum", used)) {
    if (*v != 0) {
      error(json_path_child(path, "minimum"),
            "keyword 'minimum' is supported for numbers only as 0 (any for integers)");
    }
    primitive("number");
    return add_rule("number-non-negative",
                    R"(("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?)");
  }
  return primitive("number");
}

std::string SchemaConverter::visit_string(const Json& schema, const std::string& path,
                                          const std::string& hint, std::set<std::string>& used) {
  const auto count = [&](const char* keyword) -> std::optional<int64_t> {
    if (!schema.contains(keyword)) return std::nullopt;
    used.insert(keyword);
    const Json& v = schema[keyword];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      error(json_path_child(path, keyword), "'{}' must be a non-negative integer", keyword);
    }
    if (v.get<int64_t>() > 5000) {
      error(json_path_child(path, keyword), "'{}' above 5000 is not supported", keyword);
    }
    return v.get<int64_t>();
  };
  const auto min_length = count("minLength");
  const auto max_length = count("maxLength");
  const bool has_length = min_length || max_length;
  if (schema.contains("format")) {
    used.insert("format");
    const std::string fpath = json_path_child(path, "format");
    if (!schema["format"].is_string()) error(fpath, "'format' must be a string");
    const std::string format = schema["format"].get<std::string>();
    if (has_length || schema.contains("pattern")) {
      error(fpath, "'format' together with a length or a pattern is not supported");
    }
    std::string inner;
    if (format == "date") {
      inner = primitive("date");
    } else if (format == "time") {
      inner = primitive("time");
    } else if (format == "date-time") {
      inner = primitive("date") + " \"T\" " + primitive("time");
    } else if (format == "uuid") {
      inner = primitive("uuid");
    } else {
      error(fpath, "format \"{}\" is not supported (date, time, date-time, uuid are)", format);
    }
    return add_rule(hint + "-" + format, "\"\\\"\" " + inner + " \"\\\"\"");
  }
  if (schema.contains("pattern")) {
    used.insert("pattern");
    const std::string ppath = json_path_child(path, "pattern");
    if (!schema["pattern"].is_string()) error(ppath, "'pattern' must be a string");
    if (has_length) error(ppath, "'pattern' together with minLength/maxLength is not supported");
    return add_rule(
        hint + "-pattern",
        "\"\\\"\" " + regex_to_gbnf(schema["pattern"].get<std::string>(), ppath) + " \"\\\"\"");
  }
  if (!has_length) return primitive("string");
  const int64_t lo = min_length.value_or(0);
  if (max_length && *max_length < lo) error(path, "maxLength is below minLength");
  primitive("char");
  const std::string repeat =
      max_length ? fmt::format("{{{},{}}}", lo, *max_length) : fmt::format("{{{},}}", lo);
  return add_rule(hint + "-string", "\"\\\"\" char" + repeat + " \"\\\"\"");
}

}  // namespace detail

std::string json_schema_to_gbnf(std::string_view schema_json, const JsonSchemaOptions& options) {
  detail::Json schema;
  try {
    schema = detail::Json::parse(schema_json);
  } catch (const detail::Json::exception& e) {  // parse_error, or out_of_range (1e999)
    fail("json schema: not valid JSON: {}", e.what());
  }
  return detail::SchemaConverter(schema, options).convert_root();
}

std::shared_ptr<const CompiledGrammar> compile_json_schema(std::string_view schema_json,
                                                           const JsonSchemaOptions& options) {
  return compile_gbnf(json_schema_to_gbnf(schema_json, options));
}

std::string json_object_gbnf() {
  return json_schema_to_gbnf(R"({"type": "object"})");
}

std::shared_ptr<const CompiledGrammar> compile_json_object() {
  return compile_gbnf(json_object_gbnf());
}

}  // namespace loom::grammar
