#include "chat/chat_template.h"

#include <optional>

#include "chat/jinja.h"
#include "chat/json_value.h"
#include "chat/tool_template.h"
#include "core/error.h"

namespace loom::chat {
namespace {

// A message as HF transformers hands it to templates: `tool_calls` only when there are
// calls, each {"id", "type": "function", "function": {"name", "arguments"}}.
// How a message with calls is shown: arguments as a mapping or as text, empty content as
// None (OpenAI's null) or "".
struct CallStyle {
  bool object_arguments = true;
  bool null_content = true;
};

Value message_value(const Message& m, CallStyle style) {
  const bool null_content = style.null_content && m.content.empty() && !m.tool_calls.empty();
  Value message =
      Value::dict({{"role", Value::string(m.role)},
                   {"content", null_content ? Value::none() : Value::string(m.content)}});
  if (!m.tool_calls.empty()) {
    Array calls;
    for (const ToolCall& call : m.tool_calls) {
      Value arguments = Value::string(call.arguments);
      if (style.object_arguments) {
        try {
          arguments = value_from_json(call.arguments, "arguments");
        } catch (const Error&) {
          // Not JSON: shown as the text it is.
        }
      }
      Value function =
          Value::dict({{"name", Value::string(call.name)}, {"arguments", std::move(arguments)}});
      calls.push_back(Value::dict({{"id", Value::string(call.id)},
                                   {"type", Value::string("function")},
                                   {"function", std::move(function)}}));
    }
    message.set("tool_calls", Value::list(std::move(calls)));
  }
  if (!m.tool_call_id.empty()) message.set("tool_call_id", Value::string(m.tool_call_id));
  if (!m.name.empty()) message.set("name", Value::string(m.name));
  return message;
}

std::string render(const std::string& source, const TemplateInputs& inputs, CallStyle style) {
  Array messages;
  for (const Message& m : inputs.messages) messages.push_back(message_value(m, style));
  Value context =
      Value::dict({{"messages", Value::list(std::move(messages))},
                   {"add_generation_prompt", Value::boolean(inputs.add_generation_prompt)},
                   {"bos_token", Value::string(inputs.bos_token)},
                   {"eos_token", Value::string(inputs.eos_token)}});
  if (!inputs.tools_json.empty()) context.set("tools", value_from_json(inputs.tools_json, "tools"));
  return render_jinja(source, context);
}

bool has_tool_calls(const TemplateInputs& inputs) {
  for (const Message& m : inputs.messages) {
    if (!m.tool_calls.empty()) return true;
  }
  return false;
}

}  // namespace

std::string render_chat_template(const std::string& source, const TemplateInputs& given) {
  TemplateInputs inputs = given;
  add_generic_tool_prompt(detect_tool_support(source), inputs);
  // Templates differ in what a message with calls looks like: most write the arguments
  // with `| tojson` and so want a mapping (as HF transformers documents), a few add them
  // to strings; some test `content is none` (OpenAI's null), others use it as a string.
  // The first style the template renders without an error wins.
  if (!has_tool_calls(inputs)) return render(source, inputs, {});
  std::optional<Error> first_error;
  for (const CallStyle style : {CallStyle{true, true}, CallStyle{false, true},
                                CallStyle{true, false}, CallStyle{false, false}}) {
    try {
      return render(source, inputs, style);
    } catch (const Error& e) {
      if (!first_error) first_error = e;
    }
  }
  throw *first_error;
}

}  // namespace loom::chat
