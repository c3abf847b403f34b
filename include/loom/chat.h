// Chat templates: turn a conversation into the prompt text a model was trained on.
//
//   std::vector<loom::ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}};
//   std::string prompt = loom::apply_chat_template(*model, messages, true);
//
// The model's own template (GGUF key tokenizer.chat_template, Jinja) is rendered by loom's
// Jinja interpreter; a template using a construct it does not support is an error naming
// the construct. Built-in templates serve models without one, or when asked for by name.
#pragma once

#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

// The model's tokenizer.chat_template (Jinja source); empty when the model has none.
std::string chat_template_source(const Model& model);

// Names accepted as `template_name` besides "" and Jinja source: chatml, llama-2,
// llama-3, mistral, gemma, phi-3, zephyr.
std::vector<std::string> builtin_chat_templates();

// Renders `messages`. template_name: "" = the model's template, else chatml; a built-in
// name; or Jinja source (anything containing "{%" or "{{"). With add_generation_prompt
// the text ends where the assistant's reply begins. Throws loom::Error for an unknown
// name, an unsupported construct, or an error the template raises (e.g. roles that do not
// alternate).
std::string apply_chat_template(const Model& model, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const std::string& template_name = "");

}  // namespace loom
