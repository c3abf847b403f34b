#include "server/openai_tool_calls.h"

#include <fmt/format.h>

#include "server/api_error.h"

namespace loom::server {
namespace {

using nlohmann::json;
using Ordered = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& field, const std::string& message) {
  throw bad_field(field, fmt::format("'{}' {}", field, message));
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

ToolDefinition parse_tool(const Ordered& tool, size_t i) {
  const std::string field = fmt::format("tools[{}]", i);
  if (!tool.is_object()) bad(field, "must be an object");
  if (!tool.contains("type") || tool["type"] != "function") {
    bad(field + ".type", "must be \"function\" (loom runs function tools only)");
  }
  if (!tool.contains("function") || !tool["function"].is_object()) {
    bad(field + ".function", "must be an object with the function's name and parameters");
  }
  const Ordered& function = tool["function"];
  ToolDefinition def;
  if (!function.contains("name") || !function["name"].is_string() ||
      !valid_name(function["name"].get<std::string>())) {
    bad(field + ".function.name", "must be a string of 1 to 64 characters a-z, A-Z, 0-9, _ or -");
  }
  def.name = function["name"].get<std::string>();
  if (function.contains("description") && !function["description"].is_string() &&
      !function["description"].is_null()) {
    bad(field + ".function.description", "must be a string");
  }
  if (function.contains("parameters") && !function["parameters"].is_null()) {
    if (!function["parameters"].is_object()) {
      bad(field + ".function.parameters", "must be a JSON Schema object");
    }
    def.parameters = function["parameters"].dump();
  }
  if (function.contains("strict") && !function["strict"].is_null()) {
    if (!function["strict"].is_boolean()) bad(field + ".function.strict", "must be a boolean");
    def.strict = function["strict"].get<bool>();
  }
  return def;
}

}  // namespace

ToolRequest parse_tool_request(const json& body, const std::string& raw) {
  ToolRequest out;
  const json* tools = member(body, "tools");
  const json* choice = member(body, "tool_choice");
  if (const json* parallel = member(body, "parallel_tool_calls")) {
    if (!parallel->is_boolean()) bad("parallel_tool_calls", "must be a boolean");
    out.calling.parallel = parallel->get<bool>();
  }
  if (tools) {
    if (!tools->is_array()) bad("tools", "must be an array of function tools");
    // Read again in order: the schemas' property order is the order the arguments are
    // written in, and the template shows the tools as given.
    const Ordered ordered = Ordered::parse(raw)["tools"];
    for (size_t i = 0; i < ordered.size(); ++i) {
      const ToolDefinition def = parse_tool(ordered[i], i);
      for (const ToolDefinition& other : out.calling.tools) {
        if (other.name == def.name) {
          bad(fmt::format("tools[{}].function.name", i),
              fmt::format("repeats the name \"{}\"", def.name));
        }
      }
      out.calling.tools.push_back(def);
    }
    if (!ordered.empty()) out.tools_json = ordered.dump();
  }
  out.calling.choice = out.tools_json.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  if (!choice) return out;
  if (choice->is_string()) {
    const std::string name = choice->get<std::string>();
    if (name == "none") {
      out.calling.choice = ToolChoice::kNone;
      return out;
    }
    if (name != "auto" && name != "required") {
      bad("tool_choice", fmt::format("must be \"none\", \"auto\", \"required\" or "
                                     "{{\"type\": \"function\", \"function\": {{\"name\": ...}}}}, "
                                     "got \"{}\"",
                                     name));
    }
    out.calling.choice = name == "auto" ? ToolChoice::kAuto : ToolChoice::kRequired;
  } else if (choice->is_object()) {
    const json* function = member(*choice, "function");
    const json* name = function && function->is_object() ? member(*function, "name") : nullptr;
    if (choice->value("type", "") != "function" || !name || !name->is_string()) {
      bad("tool_choice",
          "must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": "
          "{\"name\": ...}}");
    }
    out.calling.choice = ToolChoice::kFunction;
    out.calling.function = name->get<std::string>();
    bool known = false;
    for (const ToolDefinition& def : out.calling.tools)
      known = known || def.name == out.calling.function;
    if (!known) {
      bad("tool_choice",
          fmt::format("names function \"{}\", which is not among the tools", out.calling.function));
    }
  } else {
    bad("tool_choice", "must be a string or an object");
  }
  if (out.tools_json.empty()) bad("tool_choice", "needs 'tools'");
  return out;
}

void parse_message_tools(const json& message, size_t index, ChatMessage& out) {
  const std::string field = fmt::format("messages[{}]", index);
  if (const json* calls = member(message, "tool_calls")) {
    if (out.role != "assistant")
      bad(field + ".tool_calls", "is allowed only in assistant messages");
    if (!calls->is_array()) bad(field + ".tool_calls", "must be an array");
    for (size_t i = 0; i < calls->size(); ++i) {
      const std::string call_field = fmt::format("{}.tool_calls[{}]", field, i);
      const json& call = (*calls)[i];
      const json* function = call.is_object() ? member(call, "function") : nullptr;
      if (!function || !function->is_object()) {
        bad(call_field + ".function", "must be an object with name and arguments");
      }
      const json* name = member(*function, "name");
      if (!name || !name->is_string()) bad(call_field + ".function.name", "must be a string");
      const json* arguments = member(*function, "arguments");
      std::string arguments_text = "{}";
      if (arguments && arguments->is_string()) {
        arguments_text = arguments->get<std::string>();
      } else if (arguments && arguments->is_object()) {
        arguments_text = arguments->dump();
      } else if (arguments) {
        bad(call_field + ".function.arguments", "must be a string of JSON");
      }
      const json* id = member(call, "id");
      if (id && !id->is_string()) bad(call_field + ".id", "must be a string");
      out.tool_calls.push_back(
          {id ? id->get<std::string>() : std::string(), name->get<std::string>(), arguments_text});
    }
  }
  if (out.role == "tool") {
    const json* id = member(message, "tool_call_id");
    if (!id || !id->is_string())
      bad(field + ".tool_call_id", "is required in a tool message (a string)");
    out.tool_call_id = id->get<std::string>();
  }
  if (out.role == "tool" || out.role == "function") {
    if (const json* name = member(message, "name"); name && name->is_string()) {
      out.name = name->get<std::string>();
    }
  }
}

json tool_calls_json(const std::vector<ToolCall>& calls, bool with_index, int first) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = {{"id", calls[i].id},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (with_index) call["index"] = first + static_cast<int>(i);
    out.push_back(std::move(call));
  }
  return out;
}

void add_tool_calls(json& choice, ToolCallFormat format) {
  json& message = choice["message"];
  const std::string text =
      message["content"].is_string() ? message["content"].get<std::string>() : "";
  ToolCallParser::Delta parsed = parse_tool_calls(text, format);
  if (parsed.calls.empty()) return;
  message["content"] = parsed.content.empty() ? json() : json(parsed.content);
  message["tool_calls"] = tool_calls_json(parsed.calls);
  // A reply cut at max_tokens stays "length" (its last call may be what was cut).
  if (choice["finish_reason"] == "stop") choice["finish_reason"] = "tool_calls";
}

ToolCallStream::Out ToolCallStream::push(std::string_view text, bool finished) {
  ToolCallParser::Delta delta = parser_.push(text);
  if (finished) {
    ToolCallParser::Delta rest = parser_.finish();
    delta.content += rest.content;
    for (ToolCall& call : rest.calls) delta.calls.push_back(std::move(call));
  }
  Out out;
  out.content = std::move(delta.content);
  for (const ToolCall& call : delta.calls) {
    const int index = n_calls_++;
    out.tool_calls.push_back({{"index", index},
                              {"id", call.id},
                              {"type", "function"},
                              {"function", {{"name", call.name}, {"arguments", ""}}}});
    out.tool_calls.push_back({{"index", index}, {"function", {{"arguments", call.arguments}}}});
  }
  return out;
}

}  // namespace loom::server
