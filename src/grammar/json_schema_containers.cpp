// Objects and arrays for the JSON Schema converter (see json_schema_converter.h).
#include <fmt/format.h>

#include "grammar/json_regex.h"
#include "grammar/json_schema_converter.h"

namespace loom::grammar::detail {
namespace {

int64_t count_keyword(const Json& schema, const std::string& path, const char* keyword,
                      std::set<std::string>& used, int64_t fallback) {
  if (!schema.contains(keyword)) return fallback;
  used.insert(keyword);
  const Json& v = schema[keyword];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    fail("json schema: at {}: '{}' must be a non-negative integer", json_path_child(path, keyword),
         keyword);
  }
  if (v.get<int64_t>() > 1000) {
    fail("json schema: at {}: '{}' above 1000 is not supported", json_path_child(path, keyword),
         keyword);
  }
  return v.get<int64_t>();
}

std::vector<uint32_t> code_points(const std::string& utf8) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < utf8.size();) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    const int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? b : b & (0x3F >> (n - 1));
    for (int k = 1; k < n && i + k < utf8.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string class_char(uint32_t cp) {
  if (cp < 0x80 &&
      !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))) {
    return fmt::format("\\x{:02X}", cp);
  }
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out = fmt::format("\\U{:08X}", cp);
  }
  return out;
}

}  // namespace

std::string SchemaConverter::visit_array(const Json& schema, const std::string& path,
                                         const std::string& hint, std::set<std::string>& used) {
  std::vector<std::string> prefix;  // (n_prefix) element expressions by position
  std::string extra = primitive("value");
  bool extra_allowed = true;
  const auto items_expr = [&](const char* keyword) {
    used.insert(keyword);
    const Json& items = schema[keyword];
    const std::string ipath = json_path_child(path, keyword);
    if (items.is_boolean() && !items.get<bool>()) {
      extra_allowed = false;
    } else {
      extra = visit(items, ipath, hint + "-item");
    }
  };
  if (schema.contains("prefixItems")) {
    used.insert("prefixItems");
    const Json& p = schema["prefixItems"];
    const std::string ppath = json_path_child(path, "prefixItems");
    if (!p.is_array()) error(ppath, "'prefixItems' must be an array");
    for (size_t i = 0; i < p.size(); ++i) {
      prefix.push_back(
          visit(p[i], ppath + "/" + std::to_string(i), hint + "-" + std::to_string(i)));
    }
    if (schema.contains("items")) items_expr("items");
  } else if (schema.contains("items") && schema["items"].is_array()) {
    // Draft 4-2019: an items array is a tuple, additionalItems the rest.
    used.insert("items");
    const Json& p = schema["items"];
    for (size_t i = 0; i < p.size(); ++i) {
      prefix.push_back(visit(p[i], json_path_child(path, "items") + "/" + std::to_string(i),
                             hint + "-" + std::to_string(i)));
    }
    if (schema.contains("additionalItems")) items_expr("additionalItems");
  } else if (schema.contains("items")) {
    items_expr("items");
  }
  if (schema.contains("uniqueItems")) {
    used.insert("uniqueItems");
    if (schema["uniqueItems"] != false) {
      error(json_path_child(path, "uniqueItems"), "keyword 'uniqueItems' cannot be enforced");
    }
  }
  const int64_t min = count_keyword(schema, path, "minItems", used, 0);
  int64_t max = count_keyword(schema, path, "maxItems", used, -1);
  const auto n_prefix = static_cast<int64_t>(prefix.size());
  if (!extra_allowed && (max < 0 || max > n_prefix)) max = n_prefix;
  if (max >= 0 && min > max) error(path, "no array length fits minItems and maxItems");
  if (max == 0) return add_rule(hint + "-empty", R"("[" ws "]")");
  primitive("ws");
  // What may follow after j elements.
  const auto tail = [&](auto&& self, int64_t j) -> std::string {
    if (max >= 0 && j >= max) return "";
    if (j >= n_prefix) {
      const int64_t required = std::max<int64_t>(0, min - j);
      const std::string item = "(\",\" ws " + extra + " ws)";
      if (max < 0) return required == 0 ? item + "*" : fmt::format("{}{{{},}}", item, required);
      if (max - j == required)
        return required == 1 ? item : fmt::format("{}{{{}}}", item, required);
      return fmt::format("{}{{{},{}}}", item, required, max - j);
    }
    std::string item = "\",\" ws " + prefix[j] + " ws";
    const std::string rest = self(self, j + 1);
    if (!rest.empty()) item += " " + rest;
    return j >= min ? "(" + item + ")?" : item;
  };
  std::string list = (n_prefix > 0 ? prefix[0] : extra) + " ws";
  const std::string rest = tail(tail, 1);
  if (!rest.empty()) list += " " + rest;
  const std::string body =
      min == 0 ? "\"[\" ws (" + list + ")? \"]\"" : "\"[\" ws " + list + " \"]\"";
  return add_rule(hint, body);
}

// The rest of a JSON string after its opening quote, such that the whole string is none
// of `keys` (for additional properties next to named ones).
std::string SchemaConverter::key_not_in(const std::vector<std::string>& keys,
                                        const std::string& hint) {
  struct Node {
    std::map<uint32_t, size_t> children;
    bool terminal = false;
  };
  std::vector<Node> trie(1);
  for (const std::string& key : keys) {
    size_t node = 0;
    for (uint32_t cp : code_points(key)) {
      if (cp < 0x20 || cp == '"' || cp == '\\' || cp == 0x7F) {
        error("#",
              "a property name with a character JSON must escape ({:?}) is not supported "
              "next to additional properties",
              key);
      }
      auto it = trie[node].children.find(cp);
      if (it == trie[node].children.end()) {
        it = trie[node].children.emplace(cp, trie.size()).first;
        trie.emplace_back();
      }
      node = it->second;
    }
    trie[node].terminal = true;
  }
  primitive("string-rest");
  // One rule per trie node, named after the node; children first so names exist.
  std::vector<std::string> names(trie.size());
  const auto emit = [&](auto&& self, size_t node) -> void {
    for (const auto& [cp, child] : trie[node].children) self(self, child);
    std::vector<std::string> alts;
    if (!trie[node].terminal) alts.push_back(R"("\"")");
    std::string excluded;
    for (const auto& [cp, child] : trie[node].children) {
      alts.push_back(fmt::format("[{}] {}", class_char(cp), names[child]));
      excluded += class_char(cp);
    }
    alts.push_back(R"([^"\\\x00-\x1F\x7F)" + excluded + "] string-rest");
    alts.push_back(R"("\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) string-rest)");
    std::string body;
    for (const std::string& alt : alts) body += (body.empty() ? "" : " | ") + alt;
    names[node] = add_rule(hint + "-other-key", body);
  };
  emit(emit, 0);
  return "\"\\\"\" " + names[0];
}

std::string SchemaConverter::visit_object(const Json& schema, const std::string& path,
                                          const std::string& hint, std::set<std::string>& used) {
  for (const char* keyword :
       {"patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
        "dependentSchemas", "unevaluatedProperties", "dependencies"}) {
    if (schema.contains(keyword)) {
      error(json_path_child(path, keyword), "keyword '{}' is not supported", keyword);
    }
  }
  std::vector<std::pair<std::string, std::string>> required, optional;  // (key, kv expression)
  std::set<std::string> required_keys;
  if (schema.contains("required")) {
    used.insert("required");
    const Json& r = schema["required"];
    if (!r.is_array()) error(json_path_child(path, "required"), "'required' must be an array");
    for (const Json& key : r) {
      if (!key.is_string()) error(json_path_child(path, "required"), "entries must be strings");
      required_keys.insert(key.get<std::string>());
    }
  }
  std::vector<std::string> known;
  primitive("ws");
  if (schema.contains("properties")) {
    used.insert("properties");
    const Json& props = schema["properties"];
    const std::string ppath = json_path_child(path, "properties");
    if (!props.is_object()) error(ppath, "'properties' must be an object");
    for (const auto& [key, sub] : props.items()) {
      const std::string value = visit(sub, json_path_child(ppath, key), hint + "-" + key);
      const std::string kv =
          add_rule(hint + "-" + key + "-kv",
                   gbnf_literal(Json(key).dump()) + " ws \":\" ws " + value + " ws");
      (required_keys.count(key) ? required : optional).push_back({key, kv});
      known.push_back(key);
    }
  }
  for (const std::string& key : required_keys) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      error(json_path_child(path, "required"),
            "required property \"{}\" has no schema in 'properties'", key);
    }
  }
  // Extra members: additionalProperties, or any member unless strict.
  std::string extra_kv;
  bool extra_allowed = !options_.strict;
  std::string extra_value = "value";
  if (schema.contains("additionalProperties")) {
    used.insert("additionalProperties");
    const Json& a = schema["additionalProperties"];
    const std::string apath = json_path_child(path, "additionalProperties");
    if (a.is_boolean()) {
      extra_allowed = a.get<bool>();
    } else {
      extra_allowed = true;
      extra_value = visit(a, apath, hint + "-additional");
    }
  }
  if (extra_allowed) {
    if (extra_value == "value") primitive("value");
    const std::string key = known.empty() ? primitive("string") : key_not_in(known, hint);
    extra_kv = add_rule(hint + "-additional-kv", key + " ws \":\" ws " + extra_value + " ws");
  }
  const std::string more_extra = extra_allowed ? "(\",\" ws " + extra_kv + ")*" : "";
  std::string content;
  if (!required.empty()) {
    for (size_t i = 0; i < required.size(); ++i) {
      content += (i ? " \",\" ws " : "") + required[i].second;
    }
    for (const auto& [key, kv] : optional) content += " (\",\" ws " + kv + ")?";
    if (!more_extra.empty()) content += " " + more_extra;
  } else {
    // No required member: the first present member has no comma before it.
    std::vector<std::string> starts;
    for (size_t i = 0; i < optional.size(); ++i) {
      std::string start = optional[i].second;
      for (size_t j = i + 1; j < optional.size(); ++j)
        start += " (\",\" ws " + optional[j].second + ")?";
      if (!more_extra.empty()) start += " " + more_extra;
      starts.push_back(start);
    }
    if (extra_allowed) starts.push_back(extra_kv + " " + more_extra);
    for (size_t i = 0; i < starts.size(); ++i) content += (i ? " | " : "") + starts[i];
    if (!content.empty()) content = "(" + content + ")?";
  }
  const std::string body = content.empty() ? "\"{\" ws \"}\"" : "\"{\" ws " + content + " \"}\"";
  return add_rule(hint, body);
}

}  // namespace loom::grammar::detail
