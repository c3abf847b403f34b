// The JSON Schema to GBNF converter's internals, shared by json_schema.cpp (dispatch,
// scalars, $ref) and json_schema_containers.cpp (objects, arrays).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "grammar/json_schema.h"

namespace loom::grammar::detail {

using Json = nlohmann::ordered_json;

std::string json_path_child(const std::string& path, const std::string& key);
std::string rule_name_hint(const std::string& text);

class SchemaConverter {
 public:
  SchemaConverter(const Json& root, const JsonSchemaOptions& options);
  // The whole grammar: root first, then the rules it uses.
  std::string convert_root();

 private:
  template <typename... Args>
  [[noreturn]] static void error(const std::string& path, fmt::format_string<Args...> format,
                                 Args&&... args) {
    fail("json schema: at {}: {}", path, fmt::format(format, std::forward<Args>(args)...));
  }

  // A shared primitive rule (ws, string, integer ...), added on first use with the
  // primitives it mentions.
  std::string primitive(const std::string& name);
  void add_rule_named(const std::string& name, const std::string& body);
  // A new rule for `body` named after `hint`, or the existing rule with that body.
  std::string add_rule(const std::string& hint, const std::string& body);

  // A GBNF expression (usually a rule name) for the values `schema` accepts.
  std::string visit(const Json& schema, const std::string& path, const std::string& hint);
  std::string visit_schema(const Json& schema, const std::string& path, const std::string& hint);
  std::string visit_ref(const Json& schema, const std::string& path);
  std::string visit_type(const std::string& type, const Json& schema, const std::string& path,
                         const std::string& hint, std::set<std::string>& used);
  std::string visit_integer(const Json& schema, const std::string& path,
                            std::set<std::string>& used);
  std::string visit_number(const Json& schema, const std::string& path,
                           std::set<std::string>& used);
  std::string visit_string(const Json& schema, const std::string& path, const std::string& hint,
                           std::set<std::string>& used);
  std::string visit_array(const Json& schema, const std::string& path, const std::string& hint,
                          std::set<std::string>& used);
  std::string visit_object(const Json& schema, const std::string& path, const std::string& hint,
                           std::set<std::string>& used);
  std::string key_not_in(const std::vector<std::string>& keys, const std::string& hint);

  static constexpr int kMaxDepth = 64;
  int depth_ = 0;
  const Json& root_;
  JsonSchemaOptions options_;
  std::map<std::string, std::string> primitive_bodies_;
  std::set<std::string> used_primitives_;
  std::vector<std::pair<std::string, std::string>> rules_;  // (name, body) in output order
  std::set<std::string> names_;
  std::map<std::string, std::string> rule_by_body_;
  std::map<std::string, std::string> ref_rules_;  // $ref -> rule name
};

}  // namespace loom::grammar::detail
