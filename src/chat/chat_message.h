// The conversation a chat template renders, and the special-token strings it may use.
#pragma once

#include <string>
#include <vector>

namespace loom::chat {

// One function call of an assistant message, as OpenAI sends it back in the history.
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text (usually an object)
};

struct Message {
  std::string role;
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant: calls it made (the key is absent when empty)
  std::string tool_call_id;          // role "tool": the call this answers
  std::string name;                  // role "tool": the function's name, when known
};

struct TemplateInputs {
  std::vector<Message> messages;
  bool add_generation_prompt = true;
  std::string bos_token;  // the model's BOS/EOS text, as templates expect them
  std::string eos_token;
  std::string tools_json;  // OpenAI `tools` array as JSON text; empty: `tools` undefined
};

}  // namespace loom::chat
