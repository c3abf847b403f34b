// loom/chat.h: the model's chat template (or a built-in one) rendered by loom_chat.
#include "loom/chat.h"

#include "api/model_impl.h"
#include "chat/builtin_templates.h"
#include "chat/chat_template.h"
#include "core/error.h"

namespace loom {

std::string chat_template_source(const Model& model) {
  return model.impl().file->get_string("tokenizer.chat_template").value_or("");
}

std::vector<std::string> builtin_chat_templates() {
  return chat::builtin_template_names();
}

std::string resolve_chat_template(const Model& model, const std::string& template_name) {
  std::string source;
  if (template_name.empty()) {
    source = chat_template_source(model);
    if (source.empty()) source = *chat::builtin_template_source("chatml");
  } else if (template_name.find("{%") != std::string::npos ||
             template_name.find("{{") != std::string::npos) {
    source = template_name;
  } else if (auto builtin = chat::builtin_template_source(template_name)) {
    source = *builtin;
  } else {
    fail(
        "unknown chat template '{}' (built-in: chatml, llama-2, llama-3, mistral, gemma, "
        "phi-3, zephyr)",
        template_name);
  }
  return source;
}

std::string apply_chat_template(const Model& model, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const std::string& template_name,
                                const std::string& tools_json) {
  const std::string source = resolve_chat_template(model, template_name);
  chat::TemplateInputs inputs;
  for (const ChatMessage& m : messages) {
    chat::Message message{m.role, m.content, {}, m.tool_call_id, m.name};
    for (const ToolCall& call : m.tool_calls)
      message.tool_calls.push_back({call.id, call.name, call.arguments});
    inputs.messages.push_back(std::move(message));
  }
  inputs.tools_json = tools_json;
  inputs.add_generation_prompt = add_generation_prompt;
  const Tokenizer& tokenizer = *model.impl().tokenizer;
  if (tokenizer.bos_id() >= 0) inputs.bos_token = model.token_text(tokenizer.bos_id());
  if (tokenizer.eos_id() >= 0) inputs.eos_token = model.token_text(tokenizer.eos_id());
  return chat::render_chat_template(source, inputs);
}

}  // namespace loom
