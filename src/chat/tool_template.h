// What a chat template knows about tools, read from its source text, and the generic
// stand-in for what it lacks.
//
// Family of the tool-call syntax (first match wins):
//   "<tool_call>"                                   -> Hermes (Qwen2.5, Qwen3, Hermes 2/3)
//   "[TOOL_CALLS]"                                  -> Mistral
//   "<|python_tag|>", or "<|start_header_id|>" with "tools"  -> Llama 3.x (JSON calls)
//   anything else                                   -> Generic ({"tool_calls": [...]})
#pragma once

#include <string_view>

#include "chat/chat_message.h"

namespace loom::chat {

enum class ToolFormat { kGeneric, kHermes, kLlama3, kMistral };

ToolFormat detect_tool_format(std::string_view source);

struct ToolSupport {
  bool tools = false;       // renders the `tools` variable
  bool tool_calls = false;  // renders assistant messages' tool_calls
  bool tool_role = false;   // renders role "tool" messages
};

ToolSupport detect_tool_support(std::string_view source);

// Rewrites `inputs` for a template without (some) tool support: the tools become a system
// instruction asking for the generic JSON form, assistant calls become that JSON as
// content, tool results become user messages. What the template supports is left as is.
void add_generic_tool_prompt(const ToolSupport& support, TemplateInputs& inputs);

}  // namespace loom::chat
