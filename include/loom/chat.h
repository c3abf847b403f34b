// Chat templates: turn a conversation into the prompt text a model was trained on, and
// tool calling: the tools shown to the model, its calls constrained and parsed back.
//
//   std::vector<loom::ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}};
//   std::string prompt = loom::apply_chat_template(*model, messages, true);
//
// The model's own template (GGUF key tokenizer.chat_template, Jinja) is rendered by loom's
// Jinja interpreter; a template using a construct it does not support is an error naming
// the construct. Built-in templates serve models without one, or when asked for by name.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loom/loom.h"

namespace loom {

// One function call of an assistant message.
struct ToolCall {
  std::string id;  // "call_" + 24 letters and digits (Mistral: 9 letters and digits)
  std::string name;
  std::string arguments;  // JSON text of the arguments object
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made
  std::string tool_call_id;          // role "tool": the call this message answers
  std::string name;                  // role "tool": the function's name, when given
};

// The model's tokenizer.chat_template (Jinja source); empty when the model has none.
std::string chat_template_source(const Model& model);

// Names accepted as `template_name` besides "" and Jinja source: chatml, llama-2,
// llama-3, mistral, gemma, phi-3, zephyr.
std::vector<std::string> builtin_chat_templates();

// The Jinja source `template_name` stands for (see apply_chat_template); loom::Error for
// an unknown name.
std::string resolve_chat_template(const Model& model, const std::string& template_name);

// Renders `messages`. template_name: "" = the model's template, else chatml; a built-in
// name; or Jinja source (anything containing "{%" or "{{"). With add_generation_prompt
// the text ends where the assistant's reply begins. tools_json: OpenAI's `tools` array
// (JSON text), given to the template as the `tools` variable as HF transformers does; a
// template that does not read `tools` gets them as a system instruction asking for the
// generic JSON form (ToolCallFormat::kGeneric), and its missing tool_calls / tool-role
// support is filled the same way. Throws loom::Error for an unknown name, an unsupported
// construct, or an error the template raises (e.g. roles that do not alternate).
std::string apply_chat_template(const Model& model, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const std::string& template_name = "",
                                const std::string& tools_json = "");

// ---- Tool calling ------------------------------------------------------------------

// The syntax a model family writes calls in, chosen from the template's source text:
//   kHermes   contains "<tool_call>" (Qwen2.5, Qwen3, Hermes): <tool_call>{"name",
//   "arguments"}</tool_call> kMistral  contains "[TOOL_CALLS]": [TOOL_CALLS][{"name", "arguments"(,
//   "id")}, ...] kLlama3   contains "<|python_tag|>", or "<|start_header_id|>" and "tools": one
//   JSON
//             object {"name", "parameters"} as the whole reply (optionally after <|python_tag|>)
//   kGeneric  anything else (loom's instruction): {"tool_calls": [{"name", "arguments"}]}
enum class ToolCallFormat { kGeneric, kHermes, kLlama3, kMistral };
const char* to_string(ToolCallFormat format);
ToolCallFormat tool_call_format(std::string_view template_source);

enum class ToolChoice {
  kNone,      // no calls: no grammar, the reply is content
  kAuto,      // free text; a grammar switches on once the model starts a call
  kRequired,  // one or more calls (grammar from the start)
  kFunction,  // calls of one named function (grammar from the start)
};

struct ToolDefinition {
  std::string name;
  std::string parameters;  // JSON Schema text of the arguments; "" = any object
  bool strict = false;     // OpenAI strict: objects get no extra members
};

struct ToolCalling {
  ToolCallFormat format = ToolCallFormat::kGeneric;
  std::vector<ToolDefinition> tools;
  ToolChoice choice = ToolChoice::kAuto;
  std::string function;  // kFunction: its name
  bool parallel = true;  // more than one call per reply (kLlama3: always one)
};

// Sets request.grammar (and, for kAuto, request.grammar_triggers) so every call's
// arguments satisfy its tool's schema. Nothing for kNone or no tools. loom::Error
// "tool 'NAME': json schema: at #/...: ..." for a schema that cannot be enforced, and when
// the request already has a grammar or a response format.
void constrain_tool_calls(const ToolCalling& calling, Request& request);

// Splits a reply into content and calls, incrementally: text goes in as it is generated,
// content comes out as soon as it cannot be part of a call, and each call once it is
// complete. A call that does not parse stays content, as it was written. Feeding the
// whole text at once gives the same result as feeding it in pieces.
class ToolCallParser {
 public:
  struct Delta {
    std::string content;
    std::vector<ToolCall> calls;  // with fresh ids
  };
  explicit ToolCallParser(ToolCallFormat format);
  ~ToolCallParser();
  ToolCallParser(ToolCallParser&&) noexcept;
  ToolCallParser& operator=(ToolCallParser&&) noexcept;

  Delta push(std::string_view text);
  Delta finish();  // the end of the reply: whatever was held back
  int calls_so_far() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole reply at once. content has no whitespace before or after calls.
ToolCallParser::Delta parse_tool_calls(std::string_view text, ToolCallFormat format);

// A new call id for `format`.
std::string new_tool_call_id(ToolCallFormat format);

}  // namespace loom
