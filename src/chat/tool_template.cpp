#include "chat/tool_template.h"

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace loom::chat {
namespace {

using Json = nlohmann::ordered_json;

bool has(std::string_view source, std::string_view text) {
  return source.find(text) != std::string_view::npos;
}

// The arguments as JSON when they parse, else as a JSON string (shown as given).
Json arguments_json(const std::string& arguments) {
  try {
    return Json::parse(arguments);
  } catch (const Json::exception&) {  // parse_error, or out_of_range (1e999)
    return arguments;
  }
}

std::string tool_instruction(const std::string& tools_json) {
  std::string text =
      "You can call the following tools (functions). To call tools, reply with only a JSON "
      "object of the form {\"tool_calls\": [{\"name\": <function name>, \"arguments\": "
      "<arguments object>}]} and nothing else. Otherwise reply normally.\n\nTools:";
  Json tools;
  try {
    tools = Json::parse(tools_json);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range (1e999)
    fail("chat template: the tools are not valid JSON: {}", e.what());
  }
  for (const Json& tool : tools) {
    text += '\n';
    text += tool.dump();
  }
  return text;
}

}  // namespace

ToolFormat detect_tool_format(std::string_view source) {
  if (has(source, "<tool_call>")) return ToolFormat::kHermes;
  if (has(source, "[TOOL_CALLS]")) return ToolFormat::kMistral;
  if (has(source, "<|python_tag|>") || (has(source, "<|start_header_id|>") && has(source, "tools")))
    return ToolFormat::kLlama3;
  return ToolFormat::kGeneric;
}

ToolSupport detect_tool_support(std::string_view source) {
  ToolSupport support;
  support.tools = has(source, "tools");
  support.tool_calls = has(source, "tool_calls");
  support.tool_role = has(source, "'tool'") || has(source, "\"tool\"") || has(source, "ipython");
  return support;
}

void add_generic_tool_prompt(const ToolSupport& support, TemplateInputs& inputs) {
  if (!support.tools && !inputs.tools_json.empty()) {
    const std::string instruction = tool_instruction(inputs.tools_json);
    if (!inputs.messages.empty() && inputs.messages[0].role == "system") {
      inputs.messages[0].content += "\n\n" + instruction;
    } else {
      inputs.messages.insert(inputs.messages.begin(), Message{"system", instruction});
    }
  }
  for (Message& m : inputs.messages) {
    if (!support.tool_calls && !m.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ToolCall& call : m.tool_calls) {
        calls.push_back({{"name", call.name}, {"arguments", arguments_json(call.arguments)}});
      }
      const std::string json = Json{{"tool_calls", calls}}.dump();
      m.content = m.content.empty() ? json : m.content + "\n" + json;
      m.tool_calls.clear();
    }
    if (!support.tool_role && m.role == "tool") {
      Json response = {{"tool_call_id", m.tool_call_id}};
      if (!m.name.empty()) response["name"] = m.name;
      response["content"] = m.content;
      m.role = "user";
      m.content = Json{{"tool_response", response}}.dump();
      m.tool_call_id.clear();
    }
  }
}

}  // namespace loom::chat
